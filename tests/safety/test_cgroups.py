"""Where runs' cgroups go: the detection reads the scheduler's own cgroup and the cgroup mounts (v2 with the
memory and pids controllers before v1), and one run's cgroup files. The kernel's side is what the limit
and leftover tests exercise; here a cgroup v2 tree is imitated with plain folders."""
from pathlib import Path

from tasks_app.engine import cgroups
from tasks_app.engine.childenv import run_label


def test_cgroup_v2_is_used_when_the_schedulers_cgroup_offers_memory_and_pids(tmp_path):
    own = tmp_path / "system.slice" / "scheduler.service"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpu io memory pids\n")
    (own / "cgroup.subtree_control").write_text("memory pids\n")
    mounts = [(str(tmp_path), "/", "cgroup2", {"rw", "nsdelegate"})]

    found = cgroups._v2(mounts, {"": "/system.slice/scheduler.service"})

    assert found == cgroups.CgroupSupport(2, (own,))
    spec = cgroups.run_spec(found, 7, 256 * 1024 * 1024, 50)
    folder = own / f"taskrun-{run_label(7)}"
    assert spec["dirs"] == [str(folder)] and spec["procs"] == [str(folder / "cgroup.procs")]
    assert [str(folder / "memory.max"), "268435456", True] in spec["files"]
    assert [str(folder / "pids.max"), "51", True] in spec["files"]  # the shepherd counts too


def test_no_cgroup_v2_without_the_controllers_and_v1_needs_both_hierarchies(tmp_path):
    own = tmp_path / "unified"
    own.mkdir()
    (own / "cgroup.controllers").write_text("")  # mounted, but no controller (a hybrid machine like this one)
    assert cgroups._v2([(str(own), "/", "cgroup2", set())], {"": "/"}) is None
    memory = tmp_path / "memory" / "process_api" / "abc"
    memory.mkdir(parents=True)
    mounts = [(str(tmp_path / "memory"), "/", "cgroup", {"rw", "memory"})]
    assert cgroups._v1(mounts, {"memory": "/process_api/abc", "pids": "/"}) is None  # no pids hierarchy
    (tmp_path / "pids").mkdir()
    mounts.append((str(tmp_path / "pids"), "/", "cgroup", {"rw", "pids"}))
    assert cgroups._v1(mounts, {"memory": "/process_api/abc", "pids": "/"}) == cgroups.CgroupSupport(
        1, (memory, tmp_path / "pids"))


def test_a_mount_of_a_subtree_is_read_relative_to_its_root():
    assert cgroups._folder("/sys/fs/cgroup", "/docker/x", "/docker/x/runs") == Path("/sys/fs/cgroup/runs")
    assert cgroups._folder("/sys/fs/cgroup/memory", "/", "/process_api/abc") == Path(
        "/sys/fs/cgroup/memory/process_api/abc")
