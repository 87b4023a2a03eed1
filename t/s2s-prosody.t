#!/usr/bin/python3
# s2s-prosody.t: federation with a real Prosody 0.12 from Debian, on the loopback
# block 127.0.4.0/24 with its own DNS and test CA: certificates and SASL
# EXTERNAL, dialback, and a refused certificate (t/lib/s2s_peer.py says what
# each round checks).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import fed_harness as F  # noqa: E402
import s2s_peer  # noqa: E402

F.run(lambda: s2s_peer.main("prosody", block=4), watchdog=300)
