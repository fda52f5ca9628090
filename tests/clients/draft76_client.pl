#!/usr/bin/perl
# Draft-76 (hixie-76 / draft-ietf-hybi-00) test client built on the third-party
# Protocol::WebSocket library (Debian: libprotocol-websocket-perl).
#
#   draft76_client.pl URL COUNT [PROTOCOL]
#
# Sends "msg-0" .. "msg-<COUNT-1>", prints each of COUNT replies on its own
# line, then performs the 0xFF 0x00 closing handshake. Exit 1 on any error.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);
use Protocol::WebSocket::URL;
use Protocol::WebSocket::Handshake::Client;
use Protocol::WebSocket::Frame;

use constant VERSION => 'draft-ietf-hybi-00';    # the library's name for hixie-76

sub fail { print STDERR "draft76_client.pl: ", @_, "\n"; exit 1 }

my ($url, $count, $proto) = @ARGV;
fail("usage: draft76_client.pl URL COUNT [PROTOCOL]")
  unless defined $count && $count =~ /^\d+$/;
$SIG{ALRM} = sub { fail("timeout (10 s)") };
alarm 10;
binmode STDOUT, ':encoding(UTF-8)';

my $u = Protocol::WebSocket::URL->new->parse($url) or fail("bad URL: $url");
fail("wss:// is not supported") if $u->secure;
my $sock = IO::Socket::INET->new(PeerAddr => $u->host, PeerPort => $u->port,
                                 Proto => 'tcp') or fail("connect: $!");
binmode $sock;

# Opening handshake: the library generates Key1, Key2 and key3 and checks the
# server's 16-byte answer (MD5) when the response is complete.
my $hs = Protocol::WebSocket::Handshake::Client->new(url => $u, version => VERSION);
$hs->req->subprotocol($proto) if defined $proto;
syswrite($sock, $hs->to_string) or fail("write: $!");

my $frames = Protocol::WebSocket::Frame->new(version => VERSION);
sub read_more {
    my $n = sysread($sock, my $chunk, 4096);
    fail("read: $!") unless defined $n;
    fail("connection closed by server ($_[0])") unless $n;
    return $chunk;
}
until ($hs->is_done) {
    my $chunk = read_more('during handshake');
    eval { $hs->parse($chunk) } or fail("handshake failed: ", $hs->error || $@);
    $frames->append($chunk) if $hs->is_done;    # bytes after the 16-byte answer
}
fail("server did not answer with a draft-76 handshake")
  unless $hs->res->version eq VERSION;
if (defined $proto) {
    my $got = $hs->res->subprotocol;
    fail("server chose subprotocol '", $got // '(none)', "', offered '$proto'")
      unless defined $got && $got eq $proto;
}

# Messages.
for my $i (0 .. $count - 1) {
    my $out = Protocol::WebSocket::Frame->new(version => VERSION, buffer => "msg-$i");
    syswrite($sock, $out->to_bytes) or fail("write: $!");
}
my $received = 0;
while ($received < $count) {
    while ($received < $count && defined(my $msg = $frames->next)) {
        fail("server sent 0xFF 0x00 after $received of $count replies")
          if $frames->is_close;
        print "$msg\n";
        $received++;
    }
    $frames->append(read_more("after $received of $count replies"))
      if $received < $count;
}

# Closing handshake: send 0xFF 0x00, wait at most 5 s for 0xFF 0x00 or EOF.
syswrite($sock, Protocol::WebSocket::Frame->new(version => VERSION, type => 'close')->to_bytes)
  or fail("write: $!");
my $deadline = time + 5;
my $select = IO::Select->new($sock);
while (1) {
    while (defined($frames->next)) { exit 0 if $frames->is_close }
    my $left = $deadline - time;
    fail("no closing handshake from server within 5 s")
      unless $left > 0 && $select->can_read($left);
    my $n = sysread($sock, my $chunk, 4096);
    exit 0 unless $n;    # EOF (or reset) also ends the connection
    $frames->append($chunk);
}
