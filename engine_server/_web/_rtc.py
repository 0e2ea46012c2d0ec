"""The aiortc side of a viewer (runs on the asyncio thread): one peer connection, one video track.

The page is the offerer: it adds a receive-only video transceiver and the data channels
``stage`` and ``input``. ICE is not trickled: the answer is returned once gathering is complete.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable

import aioice.ice
import av
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from renderers import ViewFeed

CHANNELS = ("stage", "input")
FIRST_FRAME_POLL_S = 0.5  # how often a track waiting for its first picture looks whether it was closed
_LOOPBACK = "127.0.0.1"


def allow_loopback_candidates() -> None:
    """Let aioice offer a 127.0.0.1 host candidate (it skips loopback), so ICE works on a loopback-only
    machine; the other interfaces' candidates are kept."""
    original = aioice.ice.get_host_addresses
    if getattr(original, "stagecraft_loopback", False):
        return

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        return [*addresses, _LOOPBACK] if use_ipv4 and _LOOPBACK not in addresses else addresses

    host_addresses.stagecraft_loopback = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = host_addresses


class FeedTrack(VideoStreamTrack):
    """Video of one view at the track's pace (30 fps): the newest frame, or the last one again.

    Nothing is sent before the view's first real render: a viewer never sees a black stand-in
    (the page says "rendering…" until the first picture arrives).
    """

    def __init__(self, feed: ViewFeed) -> None:
        super().__init__()
        self.feed = feed

    async def recv(self) -> av.VideoFrame:
        loop = asyncio.get_running_loop()
        while not self.feed.rendered.is_set() and self.readyState == "live":
            await loop.run_in_executor(None, self.feed.rendered.wait, FIRST_FRAME_POLL_S)
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self.feed.latest(), format="rgb24")
        frame.pts = pts
        frame.time_base = fractions.Fraction(time_base)
        return frame


class PeerSession:
    """One viewer's peer connection. ``on_message(label, text)`` and ``on_closed()`` are called on
    the asyncio thread; they must only hand work to trio."""

    def __init__(
        self, feed: ViewFeed, on_message: Callable[[str, str], None], on_closed: Callable[[], None]
    ) -> None:
        self.pc = RTCPeerConnection()
        self.track = FeedTrack(feed)
        self.channels: dict[str, RTCDataChannel] = {}
        self._on_message = on_message
        self._on_closed = on_closed

        @self.pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label not in CHANNELS:
                channel.close()
                return
            self.channels[channel.label] = channel

            @channel.on("message")
            def on_message(message: str | bytes) -> None:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self._on_message(channel.label, text)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                self._on_closed()

    async def answer(self, offer_sdp: str) -> str:
        """Apply the page's offer and return the complete answer SDP (candidates gathered)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self.pc.addTrack(self.track)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def send(self, label: str, text: str) -> None:
        """Send on a data channel if it is open (dropped otherwise: the page is not listening yet)."""
        channel = self.channels.get(label)
        if channel is not None and channel.readyState == "open":
            channel.send(text)

    async def close(self) -> None:
        await self.pc.close()
