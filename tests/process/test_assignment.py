"""Assignment: what the master hands a worker, through the worker's environment."""

from __future__ import annotations

import os

from geows.process.assignment import ASSIGNMENT_ENV, Assignment


def test_an_assignment_comes_out_of_the_environment_as_it_went_in(monkeypatch):
    sent = Assignment(generation=2, channel=5, listeners=[("127.0.0.1", 8080, 6), (None, 443, 7)],
                      open_connections=8, share=3,
                      started=1700000000.5, config="conf/httpd.conf", server_root="/srv",
                      defines=["SSL", "TEST"])
    monkeypatch.setenv(ASSIGNMENT_ENV, sent.to_env())
    assert Assignment.from_env() == sent
    assert ASSIGNMENT_ENV not in os.environ  # taken: what the worker starts does not get it
