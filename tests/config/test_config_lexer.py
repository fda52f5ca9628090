"""Lines, words and sections, as httpd's ap_cfg_getline and ap_getword_conf read them."""

import textwrap

import pytest

from geows.config.lexer import logical_lines, split_words
from geows.config.tree import Directive, Section, parse
from geows.errors import ConfigError


def test_continuation_joins_lines_and_keeps_the_first_line_number():
    text = "Listen \\\n   8080\nLogLevel debug\n"
    assert list(logical_lines(text)) == [(1, "Listen    8080"), (3, "LogLevel debug")]


def test_continuation_with_crlf():
    assert list(logical_lines("Foo a\\\r\nb\r\nBar\r\n")) == [(1, "Foo ab"), (3, "Bar")]


def test_backslash_at_end_of_file_is_kept():
    assert list(logical_lines("Foo a\\")) == [(1, "Foo a\\")]


def test_comments_and_blank_lines_are_skipped_and_blanks_stripped():
    text = "# a comment\n\n   \t\n   # indented comment\n\tListen 80   \n"
    assert list(logical_lines(text)) == [(5, "Listen 80")]


def test_a_continued_comment_swallows_the_next_line():
    # httpd joins lines before it looks for '#'.
    assert list(logical_lines("# note \\\nListen 80\nListen 81\n")) == [(3, "Listen 81")]


def test_hash_after_the_start_of_a_line_is_an_argument():
    assert split_words(".??* *~ *#") == [".??*", "*~", "*#"]
    assert split_words("a.py init # note") == ["a.py", "init", "#", "note"]


def test_quoted_words():
    assert split_words("\"a b\" 'c d' e") == ["a b", "c d", "e"]
    assert split_words('"a" "b"') == ["a", "b"]
    assert split_words('"" x') == ["", "x"]


def test_backslash_escapes_only_the_quote_and_itself():
    assert split_words(r'"say \"hi\"" "C:\dir" C:\\dir') == ['say "hi"', r"C:\dir", r"C:\dir"]
    assert split_words(r"'it\'s' \"x") == ["it's", '\\"x']


def test_unclosed_quote_runs_to_the_end_of_the_line():
    assert split_words('"a b') == ["a b"]


def test_directive_names_keep_their_case_and_compare_lowercased():
    (node,) = parse("websockethandler Plugin.py Init_Func\n", "f.conf")
    assert isinstance(node, Directive)
    assert (node.name, node.key, node.args) == ("websockethandler", "websockethandler",
                                                ("Plugin.py", "Init_Func"))
    assert (node.file, node.line) == ("f.conf", 1)


def test_sections_nest_in_file_order():
    text = textwrap.dedent("""\
        <IfModule mod_websocket.c>
          <LOCATION "/a b">
            SetHandler websocket-handler
          </location>
          Listen 80
        </IfModule>
        Listen 81
        """)
    outer, last = parse(text, "f.conf")
    assert isinstance(outer, Section) and outer.args == ("mod_websocket.c",)
    location, listen = outer.children
    assert (location.name, location.key, location.args, location.line) == (
        "LOCATION", "location", ("/a b",), 2)
    assert [child.name for child in location.children] == ["SetHandler"]
    assert (listen.name, last.name, last.line) == ("Listen", "Listen", 7)


def test_section_without_arguments_and_text_after_the_bracket():
    else_, location = parse("<Else>\n</Else>\n<Location /x> ignored\n</Location>\n", "f")
    assert (else_.name, else_.args) == ("Else", ())
    assert location.args == ("/x",)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("Listen 80\n<Location /x\n</Location>\n", 2, "<Location directive missing closing '>'"),
    ("<Location /echo>\nSetHandler none\n", 1, "<Location /echo> was not closed."),
    ("<IfModule x>\n<Location /echo>\n</IfModule>\n", 3,
     "Expected </Location> but saw </IfModule>"),
    ("Listen 80\n</Location>\n", 2, "</Location> without matching <Location> section"),
    ("<Location /x>\n</Location >\n", 2, "</Location> directive missing closing '>'"),
])
def test_section_syntax_errors_name_file_and_line(text, line, message):
    with pytest.raises(ConfigError) as info:
        parse(text, "/etc/httpd.conf")
    assert str(info.value) == f"/etc/httpd.conf:{line}: {message}"
