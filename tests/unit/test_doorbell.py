"""The doorbell between the server of `advocate run` and its worker process."""

from __future__ import annotations

from pathlib import Path

from bot.doorbell import Doorbell, Rung


def test_ringing_with_nobody_listening_neither_waits_nor_fails(tmp_path: Path) -> None:
    Doorbell(str(tmp_path / "doorbell")).ring(fast=True)


def test_rings_since_the_last_wait_are_heard_as_one(tmp_path: Path) -> None:
    path = str(tmp_path / "doorbell")
    with Doorbell.listen(path) as listening:
        bell = Doorbell(path)
        bell.ring()
        bell.ring(fast=True)
        bell.ring()
        assert listening.wait(1.0) == Rung(fast=True)
        assert listening.wait(0.01) is None
        bell.ring()
        assert listening.wait(1.0) == Rung(fast=False)


def test_a_worker_started_again_listens_where_the_last_one_left_its_socket(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "doorbell")
    with Doorbell.listen(path):
        pass
    (tmp_path / "doorbell").touch()  # as a process killed while listening leaves it
    with Doorbell.listen(path) as listening:
        Doorbell(path).ring()
        assert listening.wait(1.0) == Rung(fast=False)
