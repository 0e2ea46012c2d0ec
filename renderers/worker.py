"""``python -m renderers.worker --connect STAGE --frames SERVICE --name NAME``: one render worker
(the same as ``stagecraft render-worker``)."""

import sys

from engine_server._cli import main

if __name__ == "__main__":
    sys.exit(main(["render-worker", *sys.argv[1:]]))
