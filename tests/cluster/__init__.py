"""Tests across hosts: geows hosts, redis-server and the clients, each in a Linux network
namespace of its own (hosts.py)."""
