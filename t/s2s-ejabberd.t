#!/usr/bin/python3
# s2s-ejabberd.t: federation with a real ejabberd 23.01 from Debian, on the loopback
# block 127.0.5.0/24 with its own DNS and test CA: certificates and SASL
# EXTERNAL, dialback, and a refused certificate (t/lib/s2s_peer.py says what
# each round checks).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import fed_harness as F  # noqa: E402
import s2s_peer  # noqa: E402

F.run(lambda: s2s_peer.main("ejabberd", block=5), watchdog=300)
