"""``stagecraft agent`` (run a built-in agent), ``jobs`` (submit, list, follow, cancel) and ``mocap``."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from protocols import (
    CancelJob,
    GetJob,
    Job,
    Jobs,
    JobSubmitted,
    ListJobs,
    StageClient,
    StagecraftError,
    SubmitJob,
)

from ._connect import connect_options, curve_keys, stage_client
from ._stage import fields

BUILT_IN_AGENTS = ("echo", "mocap")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the agent, jobs and mocap sub-commands."""
    agent = commands.add_parser("agent", help="run an agent that takes jobs from a stage")
    agent.add_argument("kind", choices=BUILT_IN_AGENTS, help="which built-in agent")
    agent.add_argument("--name", help="its name on the stage (default KIND-HOST-PID)")
    agent.add_argument("--max-jobs", type=int, default=1, help="jobs at once (default 1)")
    connect_options(agent)
    agent.set_defaults(run=_agent)

    jobs = commands.add_parser("jobs", help="submit, list, follow and cancel jobs")
    actions = jobs.add_subparsers(required=True, metavar="ACTION")
    submit = actions.add_parser("submit", help="queue a job and print its id")
    submit.add_argument("kind")
    submit.add_argument("params", nargs="*", help="key=value (value as JSON; dotted keys nest)")
    submit.add_argument("--follow", action="store_true", help="then follow it until it is done")
    listing = actions.add_parser("list", help="the newest jobs")
    listing.add_argument("--state", choices=("queued", "running", "succeeded", "failed", "cancelled"))
    listing.add_argument("--limit", type=int, default=20)
    follow = actions.add_parser("follow", help="show a job's progress until it is done")
    follow.add_argument("job_id")
    cancel = actions.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    for sub, run in ((submit, _submit), (listing, _list), (follow, _follow), (cancel, _cancel)):
        connect_options(sub)
        sub.set_defaults(run=run)

    mocap = commands.add_parser("mocap", help="motion-capture a video onto a stage character")
    mocap.add_argument(
        "video", type=Path, nargs="+", help="a video of one person (MP4 / MOV / WebM), or one per rig camera"
    )
    mocap.add_argument(
        "--calibration", type=Path, help="the rig's calibration (.toml / .json) for several videos"
    )
    mocap.add_argument("--character", required=True, help="the stage character to perform it")
    mocap.add_argument("--trim-in", type=float, help="start (seconds)")
    mocap.add_argument("--trim-out", type=float, help="end (seconds)")
    mocap.add_argument(
        "--focal", type=float, help="the camera's focal length in pixels (default: longer side)"
    )
    mocap.add_argument(
        "--pitch", type=float, help="degrees the camera looks down (default: read from the feet)"
    )
    mocap.add_argument(
        "--roll", type=float, help="degrees the camera is turned clockwise (default: from the feet)"
    )
    mocap.add_argument(
        "--placement", choices=("mark", "capture"), default="mark",
        help="mark: start where the character stands, facing its way; capture: where the performer was",
    )  # fmt: skip
    mocap.add_argument("--mark", help="a stage node to stand the character on first")
    mocap.add_argument(
        "--detector-model", type=Path, help="an RTMPose-style ONNX keypoint model (on the agent)"
    )
    mocap.add_argument(
        "--box",
        type=int,
        nargs=4,
        metavar=("X0", "Y0", "X1", "Y1"),
        help="follow the person inside this box (px)",
    )
    mocap.add_argument("--export", action="append", default=[], help="also write .glb / .gltf / .fbx")
    connect_options(mocap)
    mocap.set_defaults(run=_mocap)

    calibrate = commands.add_parser("calibrate", help="a camera rig's calibration from checkerboard videos")
    calibrate.add_argument("videos", type=Path, nargs="+", help="one synchronised video per camera")
    calibrate.add_argument("--board", required=True, help="the board's inner corners, COLSxROWS (e.g. 8x5)")
    calibrate.add_argument("--square", type=float, required=True, help="the board's square size in metres")
    calibrate.add_argument(
        "--out", type=Path, required=True, help="the calibration to write (.toml or .json)"
    )
    calibrate.set_defaults(run=_calibrate)


def _agent(args: argparse.Namespace) -> int:
    import logging

    from agents import Agent, echo

    if args.kind == "mocap":
        try:
            from agents.mocap import run_mocap_job
        except ImportError as exc:
            raise StagecraftError(f"the mocap agent is not available here: {exc}") from None

        def handler(job, progress):
            return run_mocap_job(job.params, progress, job.stage)
    else:
        handler = echo
    logging.getLogger("stagecraft").setLevel(logging.INFO)
    name = args.name or f"{args.kind}-{socket.gethostname()}-{os.getpid()}"
    agent = Agent(
        name, (args.kind,), handler, endpoint=args.connect, curve=curve_keys(args), max_jobs=args.max_jobs
    )

    def registered(reply) -> None:
        print(f"stagecraft agent: {reply.agent} takes {args.kind} jobs from {args.connect}", flush=True)

    agent.run(registered)
    return 0


def _submit(args: argparse.Namespace) -> int:

    with stage_client(args) as client:
        submitted: JobSubmitted = client.request(SubmitJob(kind=args.kind, params=fields(args.params)))
        print(submitted.job_id, flush=True)
        if args.follow:
            return _show_progress(client, submitted.job_id)
    return 0


def _mocap(args: argparse.Namespace) -> int:
    """Upload the video(s) to the stage's asset store, queue a mocap job and follow it.

    The agent fetches the videos from the stage, so it may run on any machine that reaches it.
    """
    videos = [v.resolve() for v in args.video]
    for video in videos:
        if not video.is_file():
            raise StagecraftError(f"no video file at {video}")
    names = [str(v) for v in args.video]
    params: dict[str, Any] = {
        "character": args.character,
        "video_name": names[0] if len(names) == 1 else names,
    }
    if args.calibration is not None:
        params["calibration"] = _calibration(args.calibration)
    for key in ("trim_in", "trim_out", "focal", "pitch", "roll", "placement", "mark", "box"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    if args.detector_model is not None:
        params["detector_model"] = str(args.detector_model.resolve())
    if args.export:
        params["export"] = [str(Path(p).resolve()) for p in args.export]
    with stage_client(args) as client:
        uploaded = [client.put_asset(video) for video in videos]
        params["video_sha256"] = uploaded[0] if len(uploaded) == 1 else uploaded
        submitted: JobSubmitted = client.request(SubmitJob(kind="mocap", params=params))
        print(
            f"mocap job {submitted.job_id} queued; a mocap agent takes it (stagecraft agent mocap)",
            flush=True,
        )
        return _show_progress(client, submitted.job_id)


def _calibrate(args: argparse.Namespace) -> int:
    """Calibrate the rig that filmed ``args.videos`` and write its calibration file."""
    try:
        from agents.mocap._calibrate import calibrate_rig
    except ImportError as exc:
        raise StagecraftError(f"calibration needs the mocap extras (OpenCV): {exc}") from None
    try:
        cols, rows = (int(n) for n in args.board.lower().split("x"))
    except ValueError:
        raise StagecraftError(
            f"--board must be COLSxROWS inner corners, like 8x5, not {args.board!r}"
        ) from None
    if args.out.suffix not in (".toml", ".json"):
        raise StagecraftError(f"--out must end in .toml or .json, not {args.out.name!r}")
    rig = calibrate_rig([str(v) for v in args.videos], (cols, rows), args.square).to_dict()
    text = json.dumps(rig, indent=2) if args.out.suffix == ".json" else _toml(rig)
    args.out.write_text(text + "\n")
    for camera in rig["cameras"]:
        print(f"{camera['name']}: focal {camera['matrix'][0][0]:.1f} px", flush=True)
    print(f"wrote {args.out}", flush=True)
    return 0


def _toml(rig: dict) -> str:
    """A calibration as TOML (its values are numbers, strings and arrays: JSON spells them alike)."""
    lines = [f"up = {json.dumps(rig['up'])}"]
    for camera in rig["cameras"]:
        lines += ["", "[[cameras]]", *(f"{key} = {json.dumps(value)}" for key, value in camera.items())]
    return "\n".join(lines)


def _calibration(path: Path) -> dict:
    """A rig calibration file (.toml or .json) as data; the agent checks what it says."""
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise StagecraftError(f"cannot read the calibration {path}: {exc}") from None
    if not isinstance(data, dict):
        raise StagecraftError(f"the calibration {path} holds no table of cameras")
    return data


def _list(args: argparse.Namespace) -> int:
    with stage_client(args) as client:
        jobs: Jobs = client.request(ListJobs(state=args.state, limit=args.limit))
    for job in jobs.jobs:
        when = time.strftime("%H:%M:%S", time.localtime(job.created))
        print(
            f"{job.job_id}  {job.kind:10} {job.state:10} {job.fraction:4.0%}  "
            f"try {job.attempt}/{job.max_attempts}  {when}  {job.agent or ''}"
        )
    return 0


def _follow(args: argparse.Namespace) -> int:
    with stage_client(args) as client:
        return _show_progress(client, args.job_id)


def _cancel(args: argparse.Namespace) -> int:
    with stage_client(args) as client:
        job: Job = client.request(CancelJob(job_id=args.job_id))
    print(f"{job.job_id} {job.state}")
    return 0


def _show_progress(client: StageClient, job_id: str) -> int:
    width = 30
    for update in client.follow_job(job_id):
        filled = int(update.fraction * width)
        agent = f" on {update.agent}" if update.agent else ""
        bar = "#" * filled + "." * (width - filled)
        line = f"[{bar}] {update.fraction:4.0%} {update.state}{agent} {update.stage}"
        if sys.stdout.isatty():
            print(f"\r{line[:110]:110}", end="", flush=True)
        else:
            print(line, flush=True)
    if sys.stdout.isatty():
        print()
    job: Job = client.request(GetJob(job_id=job_id))
    if job.state == "succeeded":
        print(json.dumps(job.result, indent=2))
        return 0
    print(f"job {job.state}: {job.error_code or ''} {job.error_message or ''}".rstrip(), file=sys.stderr)
    return 1
