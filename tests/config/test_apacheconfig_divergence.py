"""Where the apacheconfig library reads httpd.conf differently from httpd, and geows does not.

Each case is a line httpd reads one way and apacheconfig (which follows Perl's
Config::General) another: the reason geows has its own reader of httpd's grammar.
"""

from apacheconfig import flavors, make_loader

from geows.config.tree import parse


def apacheconfig_nodes(text):
    with make_loader(writable=True, **flavors.NATIVE_APACHE) as loader:
        return [(node.name, node.value) for node in loader.loads(text)]


def geows_nodes(text):
    return [(node.name, node.args) for node in parse(text, "httpd.conf")]


def test_hash_mid_line_is_an_argument_not_a_comment():
    # httpd passes four arguments, and WebSocketHandler's arity check rejects the line.
    text = "WebSocketHandler a.py init # note\n"
    assert apacheconfig_nodes(text) == [("WebSocketHandler", "a.py init"), ("# note", None)]
    assert geows_nodes(text) == [("WebSocketHandler", ("a.py", "init", "#", "note"))]


def test_hash_inside_a_word_is_kept():
    text = "IndexIgnore .??* *~ *#\n"
    assert apacheconfig_nodes(text) == [("IndexIgnore", ".??* *~ *"), ("#", None)]
    assert geows_nodes(text) == [("IndexIgnore", (".??*", "*~", "*#"))]


def test_two_quoted_words_are_two_arguments():
    text = 'Foo "a" "b"\n'
    assert apacheconfig_nodes(text) == [("Foo", 'a" "b')]
    assert geows_nodes(text) == [("Foo", ("a", "b"))]


def test_equals_sign_is_an_argument():
    # Config::General's "name = value" syntax; httpd sees "=" as the first argument.
    text = "Foo = bar\n"
    assert apacheconfig_nodes(text) == [("Foo", "bar")]
    assert geows_nodes(text) == [("Foo", ("=", "bar"))]


def test_heredoc_is_not_httpd_syntax():
    # httpd reads three directives here; apacheconfig one, whose value is the next line.
    text = "Foo <<EOT\nline1\nEOT\n"
    assert apacheconfig_nodes(text) == [("Foo", "line1")]
    assert geows_nodes(text) == [("Foo", ("<<EOT",)), ("line1", ()), ("EOT", ())]
