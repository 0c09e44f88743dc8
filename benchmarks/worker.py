"""One engine on one workload, timed in a process of its own (run.py starts it).

A process per engine means that no engine's imports or objects are alive
while another is timed: importing torch, for one, triples the objects every
full garbage collection must walk.  The process runs with the collector on
or off from its start, as a user's script would.

Protocol, one JSON object per line: run.py writes the spec
``{"workload", "engine", "size", "collector", "warmup"}``; the worker builds
the step, runs the warm-up steps and answers ``{"setup": seconds}``.  Then
each line ``{"steps": k, "seconds": s}`` asks for a block: at least k
consecutive steps and at least s seconds, timed as a whole (so the
collections a step triggers are charged, on average, as a training loop
pays them); the answer is ``{"steps": n, "seconds": elapsed}``.  With the
collector off, `gc.collect()` runs after each block, untimed, or micrograd's
graphs (reference cycles) would never be freed.
"""

import gc
import json
import sys
import time

import workloads


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    if not spec["collector"]:
        gc.disable()
    start = time.perf_counter()
    step = workloads.make_step(spec["workload"], spec["engine"], spec["size"])
    setup = time.perf_counter() - start
    for _ in range(spec["warmup"]):
        step()
    answer({"setup": setup})
    for line in sys.stdin:
        ask = json.loads(line)
        steps, start = 0, time.perf_counter()
        while True:
            step()
            steps += 1
            elapsed = time.perf_counter() - start
            if steps >= ask["steps"] and elapsed >= ask["seconds"]:
                break
        if not spec["collector"]:
            gc.collect()  # untimed: with the collector off, a graph with cycles is never freed
        answer({"steps": steps, "seconds": elapsed})


def answer(message: dict) -> None:
    print(json.dumps(message), flush=True)


if __name__ == "__main__":
    main()
