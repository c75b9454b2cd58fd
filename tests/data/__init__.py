"""Tests of ascbench.data and `ascbench data`."""
