"""The trio client: concurrent requests over one socket, and an ordered event stream."""

from __future__ import annotations

import pytest
import trio

from protocols import CreateNode, NotFound, SetTransform, open_stage_client


def test_concurrent_requests_each_get_their_own_reply(empty_stage) -> None:
    async def main() -> None:
        async with open_stage_client(empty_stage.commands) as client:
            await client.request(CreateNode(kind="empty", name="Marker"))
            results: dict[int, int] = {}

            async def move(i: int) -> None:
                applied = await client.request(SetTransform(node="Marker", location=(float(i), 0.0, 0.0)))
                results[i] = applied.seq

            with trio.fail_after(60):
                async with trio.open_nursery() as nursery:
                    for i in range(200):
                        nursery.start_soon(move, i)
            assert sorted(results.values()) == list(range(2, 202))
            with pytest.raises(NotFound, match="Nobody"):
                await client.request(SetTransform(node="Nobody", location=(0.0, 0.0, 0.0)))

    trio.run(main)


def test_events_follow_in_order_from_a_given_seq(empty_stage) -> None:
    async def main() -> None:
        async with open_stage_client(empty_stage.commands) as client:
            await client.request(CreateNode(kind="empty", name="Marker"))
            with trio.fail_after(60):
                async with client.events(after=0) as events:
                    for i in range(20):
                        await client.request(SetTransform(node="Marker", location=(0.0, float(i), 0.0)))
                    seen = [await events.receive() for _ in range(21)]
            assert [e.seq for e in seen] == list(range(1, 22))
            assert seen[0].command.TYPE == "create_node"
            assert seen[-1].command.location == pytest.approx((0.0, 19.0, 0.0))

    trio.run(main)
