"""Benchmark the bridge against HA's own ways to publish, in one run.

Starts a mosquitto of its own on a free port, a real Home Assistant core (HA's
test instance: the real core, in-memory storage) with the real MQTT
integration and the bridge, and an independent subscriber in a process of its
own. The scenarios (`scenarios/`, one file each) then measure the bridge
against baselines doing the same work in the same run. It prints each figure
as it comes, then the ratios, and writes every row as JSON (`rows.py`), which
`--table` turns into the tables of docs/performance.md.

    scripts/bench [ha2026.10] [--n 1000] [--qos 0 1] [--only senders ask]
    scripts/bench --before v0.2.0        # this code and v0.2.0's, taking turns
    scripts/bench --json run.json; scripts/bench --table run.json other.json
"""
