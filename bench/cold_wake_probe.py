"""Quick probe (not the benchmark suite): how much more CPU the same Python work costs on this machine right
after the thread slept, as an idle scheduler's tick, a held run's start at its slot or a wake-up does. It times
one fixed piece of work (JSON, an e-mail message) by time.thread_time(), back to back and after sleeping 0.01 to
5 s, and prints the median for each pause. On a machine whose caches and TLB stay warm across a short sleep the
figures are close; on a VM that gives the host its CPU while the guest idles they grow with the pause, and every
row that measures work after an idle moment (idle CPU, lines 1 and 1f, the wake-up rows) grows with them.
Usage: .venv/bin/python bench/cold_wake_probe.py"""
import email.message
import json
import time

PAUSES = (0, 0.01, 0.1, 0.5, 2, 5)


def work() -> int:
    d = {}
    for i in range(3000):
        d[str(i)] = json.dumps({"a": i, "b": [i, i * 2], "c": str(i)})
    message = email.message.EmailMessage()
    message["Subject"] = "x"
    message.set_content("y" * 100)
    return len(d) + len(message.as_string())


def main():
    work()
    for pause in PAUSES:
        costs = []
        for _ in range(5 if pause >= 2 else 10):
            if pause:
                time.sleep(pause)
            began = time.thread_time()
            work()
            costs.append((time.thread_time() - began) * 1000)
        costs.sort()
        print(f"after {pause:>4} s asleep: median {costs[len(costs) // 2]:.2f} ms of CPU for the same work"
              f" (min {costs[0]:.2f}, max {costs[-1]:.2f})")


if __name__ == "__main__":
    main()
