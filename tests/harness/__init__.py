"""Test harness: start the real server in a subprocess and talk to it over HTTP."""
