"""A render worker: a process with its own bpy that follows the stage and renders views on request.

It follows the stage like any client: subscribe, snapshot, rebuild, then apply every event in
order. A thread owns the stage client and its event stream and forwards events over an inproc
pair; the main thread owns bpy and the DEALER to the streaming service, and renders a view when
something changed (an event, the view's settings) or its animation plays — a fast preview — and
then, while nothing changes, refines it pass by pass until it converges (``_progressive``).
Otherwise it sends nothing: the service re-sends the last frame.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import zmq

from protocols import (
    DropView,
    Envelope,
    ProtocolError,
    RenderedFrame,
    RenderView,
    StageClient,
    ViewError,
    WorkerReady,
    decode,
    encode,
)

from ._progressive import ProgressiveView

logger = logging.getLogger("stagecraft.worker")

SEND_TIMEOUT_MS = 1000  # a frame the service cannot take now is rendered again later
PARENT_CHECK_S = 1.0
_EVENTS_INPROC = "inproc://stagecraft-worker-events"


@dataclasses.dataclass(slots=True)
class _ViewState:
    spec: RenderView
    changed_at: float
    pictures: ProgressiveView
    dirty: bool = True

    @classmethod
    def of(cls, spec: RenderView) -> _ViewState:
        return cls(spec, time.time(), ProgressiveView(spec.engine, spec.width, spec.height, spec.samples))


class RenderWorker:
    """The main-thread loop: apply events, take view requests, render what changed."""

    def __init__(self, name: str, stage_endpoint: str, frames_endpoint: str) -> None:
        self.name = name
        self.stage_endpoint = stage_endpoint
        self.frames_endpoint = frames_endpoint
        self.views: dict[str, _ViewState] = {}
        self._next_tick = 0.0

    def run(self) -> None:
        """Follow the stage and serve views until the parent process goes away."""
        from scene import open_replica

        parent = os.getppid()
        context: zmq.Context = zmq.Context.instance()
        inbox = context.socket(zmq.PAIR)
        inbox.bind(_EVENTS_INPROC)
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.IDENTITY, self.name.encode())
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.SNDHWM, 4)
        dealer.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
        dealer.connect(self.frames_endpoint)
        with tempfile.TemporaryDirectory(prefix="stagecraft-worker-") as scratch:
            client = StageClient(self.stage_endpoint, context=context)
            events = client.subscribe()  # subscribe first, then the snapshot
            self.replica = open_replica(client, Path(scratch))
            events.start_after(self.replica.seq)
            threading.Thread(target=_forward_events, args=(client, events), daemon=True).start()
            dealer.send_multipart(encode(Envelope(body=WorkerReady(worker=self.name, seq=self.replica.seq))))
            logger.info("worker %s follows the stage from seq %d", self.name, self.replica.seq)
            poller = zmq.Poller()
            poller.register(inbox, zmq.POLLIN)
            poller.register(dealer, zmq.POLLIN)
            while os.getppid() == parent:
                ready = dict(poller.poll(self._wait_ms()))
                if not ready and not any(
                    v.dirty or v.spec.play or v.pictures.refining for v in self.views.values()
                ):
                    self.replica.stage.idle()  # a quiet moment: free what deletes removed
                if inbox in ready:
                    self._apply_events(inbox)
                if dealer in ready:
                    self._take_requests(dealer)
                self._advance_animation()
                self._render_views(dealer)

    def _wait_ms(self) -> int:
        if any(v.dirty or v.pictures.refining for v in self.views.values()):
            return 0
        if any(v.spec.play for v in self.views.values()):
            return max(0, int((self._next_tick - time.monotonic()) * 1000))
        return int(PARENT_CHECK_S * 1000)

    def _apply_events(self, inbox: zmq.Socket) -> None:
        now = time.time()
        while inbox.poll(0, zmq.POLLIN):
            self.replica.apply(decode(inbox.recv_multipart()).body)
        for view in self.views.values():
            view.changed_at = now if not view.dirty else view.changed_at
            view.dirty = True

    def _take_requests(self, dealer: zmq.Socket) -> None:
        while dealer.poll(0, zmq.POLLIN):
            body = decode(dealer.recv_multipart()).body
            if isinstance(body, RenderView):
                self.views[body.view] = _ViewState.of(body)
            elif isinstance(body, DropView):
                self.views.pop(body.view, None)
                _drop_viewport(body.view)
            else:
                raise ProtocolError(f"a worker takes render_view and drop_view, not {body.TYPE}")

    def _advance_animation(self) -> None:
        playing = [v for v in self.views.values() if v.spec.play]
        if not playing or time.monotonic() < self._next_tick:
            return
        import bpy

        scene = bpy.context.scene
        frame = scene.frame_current + 1
        scene.frame_set(scene.frame_start if frame > scene.frame_end else frame)
        self._next_tick = time.monotonic() + 1.0 / scene.render.fps
        now = time.time()
        for view in playing:
            view.changed_at = now if not view.dirty else view.changed_at
            view.dirty = True

    def _render_views(self, dealer: zmq.Socket) -> None:
        """A preview of each view that changed, else the next refinement of each still converging."""
        import bpy

        for view_id, view in list(self.views.items()):
            changed = view.dirty
            if not changed and not view.pictures.refining:
                continue
            spec = view.spec
            view.dirty = False
            try:
                camera = self._camera_name(spec)
                started = time.perf_counter()
                picture = view.pictures.next(camera, changed)
            except ProtocolError as exc:
                error = ViewError(view=view_id, code=exc.code, message=exc.message, field=exc.field)
                dealer.send_multipart(encode(Envelope(body=error)))
                continue
            message = RenderedFrame(
                view=view_id,
                seq=self.replica.seq,
                frame=bpy.context.scene.frame_current,
                render_ms=(time.perf_counter() - started) * 1000,
                changed_at=view.changed_at,
                rgb=picture.rgb,
                samples=picture.samples,
                converged=picture.converged,
            )
            try:
                dealer.send_multipart(encode(Envelope(body=message)), copy=False)
            except zmq.Again:
                view.dirty = True  # the service is busy: render the newest state later

    def _camera_name(self, spec: RenderView) -> str:
        import bpy

        from protocols import NotFound

        if spec.viewport:
            return _viewport_camera(spec).name
        if spec.camera is not None:
            return self.replica.stage.node_state(spec.camera).name
        if bpy.context.scene.camera is None:
            raise NotFound("the stage has no active camera; pick a camera", field="camera")
        return bpy.context.scene.camera.name


def _viewport_name(view: str) -> str:
    return f".viewport {view}"[:63]


def _viewport_camera(spec: RenderView):
    """The worker's own camera for a free viewport (not a stage node), posed as ``spec`` says."""
    import bpy

    name = _viewport_name(spec.view)
    obj = bpy.data.objects.get(name)
    if obj is None:
        obj = bpy.data.objects.new(name, bpy.data.cameras.new(name))
        bpy.context.scene.collection.objects.link(obj)
        obj.rotation_mode = "QUATERNION"
        obj.data.clip_end = 1000.0
    obj.location = spec.location
    obj.rotation_quaternion = spec.rotation
    obj.data.lens = spec.lens
    return obj


def _drop_viewport(view: str) -> None:
    import bpy

    obj = bpy.data.objects.get(_viewport_name(view))
    if obj is not None:
        camera = obj.data
        bpy.data.objects.remove(obj)
        bpy.data.cameras.remove(camera)


def _forward_events(client: StageClient, events) -> None:
    """Thread: own the stage client and its event stream; hand each event to the main thread in order."""
    outbox: zmq.Socket = zmq.Context.instance().socket(zmq.PAIR)
    outbox.connect(_EVENTS_INPROC)
    for event in events:
        outbox.send_multipart(encode(Envelope(body=event)))
