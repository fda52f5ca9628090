#!/usr/bin/env ruby
# Draft-76 (hixie-76) test client built on the third-party "websocket" gem
# (Debian: ruby-websocket).
#
#   draft76_client.rb URL COUNT [PROTOCOL]
#
# Sends "msg-0" .. "msg-<COUNT-1>", prints each of COUNT replies on its own
# line, then performs the 0xFF 0x00 closing handshake. Exit 1 on any error.
require 'socket'
require 'timeout'
require 'websocket'

def fail!(msg)
  warn "draft76_client.rb: #{msg}"
  exit 1
end

url, count, proto = ARGV
fail!('usage: draft76_client.rb URL COUNT [PROTOCOL]') unless count =~ /\A\d+\z/
count = count.to_i

# The gem sends a draft-76 subprotocol as the draft-75 "WebSocket-Protocol"
# header; add the draft-76 "Sec-WebSocket-Protocol" header too. The gem still
# checks the server's Sec-WebSocket-Protocol against `protocols`.
opts = { url: url, version: 76 }
opts.update(protocols: [proto], headers: { 'Sec-WebSocket-Protocol' => proto }) if proto
hs = WebSocket::Handshake::Client.new(**opts)
request = hs.to_s # the gem generates Key1, Key2 and key3 here
fail!("cannot build handshake: #{hs.error}") if request.empty?
fail!('wss:// is not supported') if hs.secure

begin
  Timeout.timeout(10) do
    sock = TCPSocket.new(hs.host, hs.port)
    sock.write(request)
    read_more = lambda do |what|
      sock.readpartial(4096)
    rescue EOFError, SystemCallError => e
      fail!("connection closed by server (#{what}): #{e.message}")
    end

    # Feed the gem the headers plus exactly the 16-byte answer: it compares
    # everything after the blank line with the expected MD5.
    buf = String.new(encoding: 'BINARY')
    buf << read_more.call('during handshake') until (i = buf.index("\r\n\r\n")) && buf.bytesize >= i + 20
    hs << buf.slice!(0, i + 20)
    fail!("handshake failed: #{hs.error || 'invalid response'}") unless hs.finished? && hs.valid?
    fail!('server did not answer with a draft-76 handshake') unless hs.headers['sec-websocket-location']

    frames = WebSocket::Frame::Incoming::Client.new(version: 76)
    frames << buf
    count.times do |i|
      sock.write(WebSocket::Frame::Outgoing::Client.new(version: 76, type: :text, data: "msg-#{i}").to_s)
    end
    received = 0
    while received < count
      while received < count && (frame = frames.next)
        fail!("server sent 0xFF 0x00 after #{received} of #{count} replies") if frame.type == :close
        puts frame.data.dup.force_encoding('UTF-8')
        received += 1
      end
      fail!("bad frame from server: #{frames.error}") if frames.error?
      frames << read_more.call("after #{received} of #{count} replies") if received < count
    end
    $stdout.flush

    # Closing handshake: send 0xFF 0x00, wait at most 5 s for 0xFF 0x00 or EOF.
    sock.write(WebSocket::Frame::Outgoing::Client.new(version: 76, type: :close).to_s)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 5
    loop do
      while (frame = frames.next)
        exit 0 if frame.type == :close
      end
      fail!("bad frame from server: #{frames.error}") if frames.error?
      left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
      fail!('no closing handshake from server within 5 s') unless left > 0 && IO.select([sock], nil, nil, left)
      frames << sock.readpartial(4096)
    rescue EOFError, SystemCallError
      exit 0 # EOF (or reset) also ends the connection
    end
  end
rescue Timeout::Error
  fail!('timeout (10 s)')
rescue WebSocket::Error, SystemCallError, SocketError => e
  fail!(e.message)
end
