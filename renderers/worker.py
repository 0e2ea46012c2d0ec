"""``python -m renderers.worker --connect STAGE --frames SERVICE --name NAME``: one render worker
of the web stage (``stagecraft render-worker`` runs the same)."""

import argparse
import logging

from renderers import RenderWorker

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, help="the stage's command endpoint")
    parser.add_argument("--frames", required=True, help="the web stage's frames endpoint")
    parser.add_argument("--name", required=True, help="this worker's name (its identity there)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    RenderWorker(args.name, args.connect, args.frames).run()
