"""Classic AGI entry point: ``AGI(/path/to/python -m agi_scripts.classic)``, one process per call.

The same IVR as the FastAGI server, over stdin/stdout. It pays the interpreter start and the
imports on every call (see bench/ivr.py); it exists for sites that cannot run the server.
"""

from __future__ import annotations

import logging
import sys

from agi_scripts import ivr
from agi_scripts.agi import AGIHangup, SocketAGI
from agi_scripts.main import build_deps
from alo185.settings import load_settings


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    agi = SocketAGI(sys.stdin, sys.stdout)
    deps = build_deps(load_settings(), render_prompts=False)
    try:
        ivr.run(agi, deps)
    except AGIHangup:
        pass
    except Exception:
        logging.exception("IVR failed; the dialplan falls back to the operators")
    finally:
        deps.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
