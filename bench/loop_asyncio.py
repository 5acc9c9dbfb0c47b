# The programs of bench/loop.js under asyncio / uvloop. Prints one JSON object of ops/s.
import asyncio, json, statistics, sys, time

N_CALLSOON = 1_000_000
N_FUT = 200_000
N_SWITCH = 200_000
N_TIMERS = 100_000
N_CANCEL = 200_000

def rate(n, s):
    return n / s

def bench_call_soon(loop):
    left = [N_CALLSOON]
    def cb():
        left[0] -= 1
        if left[0] == 0:
            loop.stop()
    t0 = time.perf_counter()
    for _ in range(N_CALLSOON):
        loop.call_soon(cb)
    loop.run_forever()
    return rate(N_CALLSOON, time.perf_counter() - t0)

async def bench_future():
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    for i in range(N_FUT):
        f = loop.create_future(); f.set_result(i); await f
    return rate(N_FUT, time.perf_counter() - t0)

async def bench_switch():
    t0 = time.perf_counter()
    for _ in range(N_SWITCH):
        await asyncio.sleep(0)
    return rate(N_SWITCH, time.perf_counter() - t0)

def bench_timers(loop):
    left = [N_TIMERS]
    def cb():
        left[0] -= 1
        if left[0] == 0:
            loop.stop()
    # CPU time, as bench/loop.js measures timers (see the comment there).
    t0 = time.process_time()
    for i in range(N_TIMERS):
        loop.call_later((i % 100) / 1000, cb)
    loop.run_forever()
    return rate(N_TIMERS, max(time.process_time() - t0, 1e-6))

def bench_cancelled(loop):
    # Timeouts that never fire, as bench/loop.js's evCancelled: ~5 s timers scheduled in steps
    # of 1,000, each cancelling the one scheduled 100 before it; CPU time.
    ring = [None] * 100
    noop = lambda: None
    i = [0]
    def step():
        for _ in range(1000):
            slot = i[0] % 100
            if ring[slot] is not None:
                ring[slot].cancel()
            ring[slot] = loop.call_later((5000 + i[0] % 7) / 1000, noop)
            i[0] += 1
        if i[0] < N_CANCEL:
            loop.call_soon(step)
        else:
            for h in ring:
                h.cancel()
            loop.stop()
    t0 = time.process_time()
    loop.call_soon(step)
    loop.run_forever()
    return rate(N_CANCEL, max(time.process_time() - t0, 1e-6))

async def sleeper(i):
    await asyncio.sleep((i % 100) / 1000)

async def bench_sleep_tasks():
    # CPU time per task (creating it, its timer, waking it, gathering it), as bench/loop.js.
    loop = asyncio.get_running_loop()
    t0 = time.process_time()
    await asyncio.gather(*[loop.create_task(sleeper(i)) for i in range(N_TIMERS // 10)])
    return rate(N_TIMERS // 10, max(time.process_time() - t0, 1e-6))

def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else 'asyncio'
    if kind == 'uvloop':
        import uvloop
        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    out = {}
    if len(sys.argv) > 2 and sys.argv[2] == 'sleep_tasks':
        # The sleeping-tasks row alone (a warm-up round, then the median of 3): bench/loop.js
        # runs this between its own rounds, so both sides are measured at the same moments.
        sleeps = []
        for _ in range(4):
            loop = new_loop(); sleeps.append(loop.run_until_complete(bench_sleep_tasks())); loop.close()
        out['sleep_tasks'] = statistics.median(sleeps[1:])
        print(json.dumps(out))
        return
    loop = new_loop(); out['call_soon'] = bench_call_soon(loop); loop.close()
    # The timer rows are medians of 3 rounds, as bench/loop.js reports its own.
    timers = []
    for _ in range(3):
        loop = new_loop(); timers.append(bench_timers(loop)); loop.close()
    out['timers'] = statistics.median(timers)
    for name, fn in (('future', bench_future), ('switch', bench_switch)):
        loop = new_loop()
        out[name] = loop.run_until_complete(fn())
        loop.close()
    sleeps = []
    for _ in range(3):
        loop = new_loop(); sleeps.append(loop.run_until_complete(bench_sleep_tasks())); loop.close()
    out['sleep_tasks'] = statistics.median(sleeps)
    cancelled = []
    for _ in range(3):
        loop = new_loop(); cancelled.append(bench_cancelled(loop)); loop.close()
    out['cancelled'] = statistics.median(cancelled)
    print(json.dumps(out))

main()
