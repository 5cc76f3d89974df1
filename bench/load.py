"""Concurrency: many flows at once, and one code replayed from many threads.

The counts are the point: every flow ends in exactly one installation, and
a replayed code reaches Miro once whatever the number of racing callbacks.
A broken count stops the run.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench import flows
from bench.stats import Distribution
from tools.local.stack import LocalStack


class CountMismatch(AssertionError):
    """A load run lost, duplicated or re-sent something."""


@dataclass(frozen=True)
class Distinct:
    flows: int
    threads: int
    seconds: float
    installations: int
    exchanges: int
    statuses: dict[int, int]
    callback: Distribution
    install: Distribution


@dataclass(frozen=True)
class Replay:
    threads: int
    statuses: dict[int, int]
    exchanges: int
    token_version: str


def distinct_flows(stack: LocalStack, total: int, threads: int) -> Distinct:
    teams = [flows.next_team() for _ in range(total)]

    def one(team: str) -> tuple[int, float, float, str]:
        started = flows.start(stack, team)
        status, elapsed = flows.finish(stack, started)
        return status, elapsed, started.install_ms, started.code

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(one, teams))
    seconds = time.perf_counter() - began

    statuses = Counter(status for status, _, _, _ in results)
    items = stack.dynamodb().scan(
        TableName=stack.table("InstallationsTable"), ConsistentRead=True
    )["Items"]
    wanted = set(teams)
    mine = [i for i in items if i["team_id"]["S"] in wanted]
    versions = Counter(i["token_version"]["N"] for i in mine)
    sent = Counter(
        code
        for request in stack.miro.token_requests
        for code in request.form.get("code", [])
    )
    codes = [code for _, _, _, code in results]
    exchanges = sum(sent[code] for code in codes)
    if statuses != Counter({200: total}):
        raise CountMismatch(f"statuses {dict(statuses)}, expected {total} x 200")
    if len(mine) != total or versions != Counter({"1": total}):
        raise CountMismatch(f"{len(mine)} installations, versions {dict(versions)}")
    if any(sent[code] != 1 for code in codes):
        raise CountMismatch("a code did not reach Miro exactly once")
    return Distinct(
        flows=total,
        threads=threads,
        seconds=seconds,
        installations=len(mine),
        exchanges=exchanges,
        statuses=dict(statuses),
        callback=Distribution.of("/callback", [r[1] for r in results]),
        install=Distribution.of("/install", [r[2] for r in results]),
    )


def replayed_code(stack: LocalStack, threads: int) -> Replay:
    started = flows.start(stack)
    gate = threading.Barrier(threads)

    def one(_: int) -> int:
        event = copy.deepcopy(started.callback_event)
        gate.wait()
        return int(stack.invoke("CallbackFunction", event)["statusCode"])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        statuses = Counter(pool.map(one, range(threads)))
    exchanges = stack.miro.requests_for_code(started.code)
    item = stack.dynamodb().get_item(
        TableName=stack.table("InstallationsTable"),
        Key={
            "team_id": {"S": started.team_id},
            "user_id": {"S": stack.miro.user_id},
        },
        ConsistentRead=True,
    )["Item"]
    if statuses != Counter({200: 1, 409: threads - 1}):
        raise CountMismatch(f"replay statuses {dict(statuses)}")
    if exchanges != 1:
        raise CountMismatch(f"the replayed code reached Miro {exchanges} times")
    return Replay(threads, dict(statuses), exchanges, item["token_version"]["N"])


def vending_race(stack: LocalStack, threads: int) -> str:
    """Many invocations ask for one installation's token as it nears expiry.

    Miro rotates refresh tokens, so exactly one refresh request may reach it;
    every caller must come back with the same new token.
    """
    started = flows.start(stack)
    status, _ = flows.finish(stack, started)
    if status != 200:
        raise CountMismatch(f"the install for the vending race answered {status}")
    key = {"team_id": {"S": started.team_id}, "user_id": {"S": stack.miro.user_id}}
    stack.dynamodb().update_item(
        TableName=stack.table("InstallationsTable"),
        Key=key,
        UpdateExpression="SET access_expires_at = :soon",
        ExpressionAttributeValues={":soon": {"N": str(int(time.time()) + 30)}},
    )
    ids = {"team_id": started.team_id, "user_id": stack.miro.user_id}
    refreshes_before = stack.miro.refresh_requests()
    gate = threading.Barrier(threads)

    def one(_: int) -> str:
        gate.wait()
        answer = stack.invoke("TokensFunction", dict(ids))
        return str(answer.get("access_token") or answer.get("reason"))

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        answers = Counter(pool.map(one, range(threads)))
    seconds = time.perf_counter() - began
    refreshes = stack.miro.refresh_requests() - refreshes_before
    version = stack.dynamodb().get_item(
        TableName=stack.table("InstallationsTable"), Key=key, ConsistentRead=True
    )["Item"]["token_version"]["N"]
    if refreshes != 1:
        raise CountMismatch(f"{threads} vending calls made {refreshes} refreshes")
    if len(answers) != 1 or not stack.miro.is_access_token_valid(next(iter(answers))):
        raise CountMismatch(f"vending answers differ: {len(answers)} distinct")
    return (
        f"{threads} threads: {refreshes} refresh request at Miro, {threads} answers "
        f"with one valid token, token_version 1 -> {version}, {seconds:.1f} s"
    )
