"""Stress tests for the ZeroMQ <-> trio glue and the trio client over real tcp sockets."""

from __future__ import annotations

import trio
import trio.testing
import zmq

from protocols._zmq_trio import TrioSocket


async def _echo_server(socket: TrioSocket) -> None:
    async for parts in socket.inbox:
        socket.send_nowait(parts)


def test_pipelined_burst_loses_nothing_and_keeps_order() -> None:
    """20 DEALERs pipeline 2,000 messages each through one trio-owned ROUTER; all come back in order."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.SNDHWM, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    clients, per_client = 20, 2000

    async def client(index: int, results: dict[int, list[int]]) -> None:
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.SNDHWM, 0)
        dealer.connect(f"tcp://127.0.0.1:{port}")
        owner = TrioSocket(dealer)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(owner.run)
            for i in range(per_client):
                owner.send_nowait([index.to_bytes(2, "big"), i.to_bytes(4, "big")])
            got = results.setdefault(index, [])
            async for parts in owner.inbox:
                got.append(int.from_bytes(parts[1], "big"))
                if len(got) == per_client:
                    break
            nursery.cancel_scope.cancel()
        dealer.close(linger=0)

    async def main() -> dict[int, list[int]]:
        results: dict[int, list[int]] = {}
        server = TrioSocket(router)
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server.run)
                nursery.start_soon(_echo_server, server)
                async with trio.open_nursery() as inner:
                    for index in range(clients):
                        inner.start_soon(client, index, results)
                nursery.cancel_scope.cancel()
        return results

    results = trio.run(main)
    router.close(linger=0)
    context.term()
    assert sorted(results) == list(range(clients))
    for got in results.values():
        assert got == list(range(per_client))


def test_send_from_another_task_wakes_an_idle_owner() -> None:
    """A message queued while the owner waits on the FD is sent without any incoming traffic."""
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = context.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")

    async def main() -> None:
        owner = TrioSocket(push)
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(owner.run)
                for i in range(100):
                    await trio.testing.wait_all_tasks_blocked()
                    owner.send_nowait([str(i).encode()])
                    assert await trio.to_thread.run_sync(pull.recv_multipart) == [str(i).encode()]
                nursery.cancel_scope.cancel()

    trio.run(main)
    push.close(linger=0)
    pull.close(linger=0)
    context.term()
