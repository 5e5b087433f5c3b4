# SPDX-License-Identifier: MIT
"""
Packaging and operations: man pages against the subcommand table, make
install into a DESTDIR, the Debian package (contents, dependencies,
lintian, install and removal in a debootstrap chroot), systemd units
(systemd-analyze verify), bash completion, per-volume configuration files
and `phivault --volume`, and `phivault doctor` on a directory repository.

Run: /usr/bin/python3 -m pytest tests/packaging
Tests that need a tool say which one when they skip.  The chroot test
needs debootstrap and Debian's mirror; PHIVAULT_TEST_CHROOT=0 skips it.
"""
import os
import re
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "phivault")
VERSION_RE = re.compile(r"^phivault (\S+)$")


def run(*args, check=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("cwd", ROOT)
    r = subprocess.run(list(args), **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" %
                             (" ".join(args), r.returncode, r.stdout,
                              r.stderr))
    return r


@pytest.fixture(scope="session", autouse=True)
def built():
    run("make", "-s", "phivault")


def commands():
    """(name, usage) for every row of the subcommand table."""
    out = run(BIN, "help").stdout
    body = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    names = [line.split()[0] for line in body.splitlines() if line.strip()]
    rows = []
    for n in names:
        first = run(BIN, "help", n).stdout.splitlines()[0]
        assert first.startswith("usage: phivault ")
        rows.append((n, first[len("usage: phivault "):]))
    return rows


def version():
    return VERSION_RE.match(run(BIN, "version").stdout.strip()).group(1)


# ---- man pages -------------------------------------------------------------

def scd_sections(path):
    with open(path) as f:
        text = f.read()
    secs = {}
    cur = None
    for line in text.splitlines():
        if line.startswith("# "):
            cur = line[2:].strip()
            secs[cur] = []
        elif cur:
            secs[cur].append(line)
    return text, secs


def test_every_command_has_a_man_page_whose_synopsis_is_its_usage():
    rows = commands()
    assert len(rows) >= 20
    for name, usage in rows:
        path = os.path.join(ROOT, "man", "phivault-%s.1.scd" % name)
        assert os.path.exists(path), "no man page for '%s'" % name
        text, secs = scd_sections(path)
        assert text.startswith("phivault-%s(1)\n" % name)
        syn = [l for l in secs["SYNOPSIS"] if l.strip()]
        assert syn and syn[0] == "phivault " + usage, \
            "%s: SYNOPSIS differs from the table's usage line:\n  %r\n  %r" \
            % (path, syn[0] if syn else None, "phivault " + usage)


def test_man_pages_have_examples_exit_status_and_bugs():
    pages = [p for p in os.listdir(os.path.join(ROOT, "man"))
             if p.endswith(".scd")]
    assert "phivault.1.scd" in pages and "phivault.conf.5.scd" in pages
    for p in pages:
        _, secs = scd_sections(os.path.join(ROOT, "man", p))
        for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "BUGS",
                  "SEE ALSO"):
            assert s in secs, "%s has no %s section" % (p, s)
            assert any(l.strip() for l in secs[s]), "%s: empty %s" % (p, s)
        if p.endswith(".1.scd"):
            assert "EXIT STATUS" in secs, "%s has no EXIT STATUS" % p


def test_exit_statuses_in_man_pages_are_the_ones_in_cmd_h():
    with open(os.path.join(ROOT, "tools", "cmd.h")) as f:
        codes = {int(v) for v in re.findall(r"EXIT_\w+ = (\d+)", f.read())}
    for p in os.listdir(os.path.join(ROOT, "man")):
        if not p.endswith(".1.scd"):
            continue
        _, secs = scd_sections(os.path.join(ROOT, "man", p))
        listed = {int(m) for m in re.findall(r"^\*(\d+)\*$",
                                             "\n".join(secs["EXIT STATUS"]),
                                             re.M)}
        assert listed and listed <= codes, p


def test_man_pages_build_with_scdoc():
    if not shutil.which("scdoc"):
        pytest.skip("scdoc is not installed (apt-get install scdoc)")
    run("make", "-s", "man")
    built = os.listdir(os.path.join(ROOT, "build", "man"))
    assert "phivault.1" in built and "phivault-doctor.1" in built
    if shutil.which("man"):
        r = run("man", "-l", os.path.join(ROOT, "build", "man",
                                          "phivault-doctor.1"),
                env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
        assert "EXIT STATUS" in r.stdout


def test_help_mentions_the_global_volume_option():
    out = run(BIN, "help").stdout
    assert out.startswith("usage: phivault [--volume NAME] COMMAND")
    # what a new user types first works too
    for flag in ("--help", "-h"):
        assert run(BIN, flag).stdout == out


# ---- make install ----------------------------------------------------------

def expected_files(prefix, unitdir, names):
    files = {prefix + "/bin/phivault"}
    for n, _ in names:
        files.add("%s/share/man/man1/phivault-%s.1" % (prefix, n))
    files.add(prefix + "/share/man/man1/phivault.1")
    files.add(prefix + "/share/man/man5/phivault.conf.5")
    for u in ("phivault-mount@.service", "phivault-backup@.service",
              "phivault-backup@.timer", "phivault-drill@.service",
              "phivault-drill@.timer"):
        files.add(unitdir + "/" + u)
    files.add(prefix + "/share/bash-completion/completions/phivault")
    doc = prefix + "/share/doc/phivault"
    files |= {doc + "/CONFIG.md", doc + "/OPERATIONS.md",
              doc + "/examples/volume.conf",
              doc + "/examples/cron.d-phivault"}
    return files


def tree(root):
    out = set()
    for d, _, fs in os.walk(root):
        for f in fs:
            out.add("/" + os.path.relpath(os.path.join(d, f), root))
    return out


def test_make_install_into_destdir(tmp_path):
    if not shutil.which("scdoc"):
        pytest.skip("scdoc is not installed (apt-get install scdoc)")
    dest = tmp_path / "root"
    run("make", "-s", "install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    got = tree(dest)
    want = expected_files("/usr", "/usr/lib/systemd/system", commands())
    assert want <= got, "missing: %s" % sorted(want - got)
    extra = {f for f in got - want
             if not re.match(r"/usr/share/doc/phivault/[A-Z_]+\.md$", f)}
    assert not extra, "unexpected: %s" % sorted(extra)
    st = os.stat(dest / "usr/bin/phivault")
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "etc/phivault").st_mode) == 0o750
    r = run(str(dest / "usr/bin/phivault"), "version")
    assert r.stdout.startswith("phivault ")


# ---- the Debian package ----------------------------------------------------

@pytest.fixture(scope="session")
def deb():
    for tool in ("dpkg-deb", "scdoc", "fakeroot"):
        if tool != "fakeroot" and not shutil.which(tool):
            pytest.skip("%s is not installed" % tool)
    out = run("make", "-s", "deb").stdout.strip().splitlines()[-1]
    assert out.endswith(".deb") and os.path.exists(out)
    return out


def test_deb_contents(deb):
    listing = run("dpkg-deb", "-c", deb).stdout
    paths = set()
    for line in listing.splitlines():
        p = line.split()[5]
        if not p.endswith("/"):
            paths.add(p[1:])
    gz = set()
    for p in expected_files("/usr", "/lib/systemd/system", commands()):
        if "/share/man/" in p:
            p += ".gz"
        if p.endswith(".md") and p + ".gz" in paths:
            p += ".gz"
        gz.add(p)
    gz |= {"/usr/share/doc/phivault/copyright",
           "/usr/share/doc/phivault/changelog.gz"}
    assert gz <= paths, "missing: %s" % sorted(gz - paths)
    assert not [p for p in paths if p.startswith("/etc/")], \
        "the package must not ship files in /etc (no conffiles, no secrets)"
    assert re.search(r"^drwxr-x--- root/root .* \./etc/phivault/$", listing,
                     re.M)


def test_deb_control_declares_dependencies(deb):
    ctl = run("dpkg-deb", "-f", deb).stdout
    assert re.search(r"^Package: phivault$", ctl, re.M)
    assert re.search(r"^Version: %s$" % re.escape(version()), ctl, re.M)
    dep = re.search(r"^Depends: (.*)$", ctl, re.M).group(1)
    declared = {d.strip().split()[0] for d in dep.split(",")}
    for p in ("libfuse3-3", "fuse3", "libssl3", "libcurl4", "libxxhash0",
              "libzstd1", "libargon2-1", "libc6"):
        assert p in declared, p


def test_deb_depends_cover_every_linked_library(deb):
    """Each shared library the binary links comes from a declared package."""
    if not shutil.which("ldd"):
        pytest.skip("ldd is not installed")
    dep = re.search(r"^Depends: (.*)$", run("dpkg-deb", "-f", deb).stdout,
                    re.M).group(1)
    declared = {d.strip().split()[0] for d in dep.split(",")}
    needed = run("objdump", "-p", BIN).stdout if shutil.which("objdump") \
        else ""
    direct = set(re.findall(r"NEEDED\s+(\S+)", needed))
    libs = {}
    for line in run("ldd", BIN).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
    assert direct, "objdump found no NEEDED entries"
    for soname in direct:
        path = os.path.realpath(libs[soname])
        r = run("dpkg", "-S", path, check=False)
        if r.returncode:
            r = run("dpkg", "-S", libs[soname], check=False)
        assert r.returncode == 0, "%s (%s) is in no package" % (soname, path)
        pkg = r.stdout.split(":")[0]
        assert pkg in declared, "%s comes from %s, not in Depends" % (
            soname, pkg)


def test_lintian_finds_no_errors(deb):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (apt-get install lintian)")
    r = run("lintian", "--tag-display-limit", "0", deb, check=False)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert not errors, "\n".join(errors)


def test_maintainer_scripts_are_valid_shell(deb):
    for s in ("postinst", "prerm", "postrm"):
        run("sh", "-n", os.path.join(ROOT, "packaging", "deb", s))


def debootstrap_chroot(path):
    """A minimal Debian 12 chroot: build/chroot-bookworm is reused."""
    cache = os.path.join(ROOT, "build", "chroot-bookworm")
    if os.path.exists(os.path.join(cache, "usr/bin/apt-get")):
        return cache
    r = run("debootstrap", "--variant=minbase", "bookworm", cache,
            "http://deb.debian.org/debian", check=False)
    if r.returncode:
        shutil.rmtree(cache, ignore_errors=True)
        pytest.skip("debootstrap failed (mirror unreachable?):\n" +
                    r.stderr[-2000:])
    return cache


def chroot(root, *args, check=True):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "DEBIAN_FRONTEND": "noninteractive", "LANG": "C"}
    return run("chroot", root, *args, check=check, env=env)


def test_deb_installs_and_removes_cleanly_in_a_debian_12_chroot(deb):
    if os.environ.get("PHIVAULT_TEST_CHROOT") == "0":
        pytest.skip("PHIVAULT_TEST_CHROOT=0")
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        pytest.skip("needs root and debootstrap (apt-get install "
                    "debootstrap)")
    root = debootstrap_chroot(None)
    chroot(root, "dpkg", "--purge", "phivault", check=False)
    shutil.copy(deb, os.path.join(root, "tmp", "phivault.deb"))
    r = chroot(root, "apt-get", "update", "-q", check=False)
    if r.returncode:
        pytest.skip("apt-get update in the chroot failed:\n" + r.stderr)
    chroot(root, "apt-get", "install", "-y", "-q", "--no-install-recommends",
           "/tmp/phivault.deb")
    assert chroot(root, "phivault", "version").stdout.strip() == \
        "phivault " + version()
    chroot(root, "phivault", "help")
    listed = chroot(root, "dpkg", "-L", "phivault").stdout.split()
    assert "/usr/share/man/man1/phivault-doctor.1.gz" in listed
    assert "/lib/systemd/system/phivault-mount@.service" in listed
    st = os.stat(os.path.join(root, "etc/phivault/keys"))
    assert stat.S_IMODE(st.st_mode) == 0o700
    # the audited volume must not come from the package: no enablement
    assert not os.path.exists(os.path.join(
        root, "etc/systemd/system/multi-user.target.wants/"
        "phivault-mount@.service"))

    chroot(root, "apt-get", "remove", "-y", "-q", "phivault")
    assert not os.path.exists(os.path.join(root, "usr/bin/phivault"))
    # an audit log left behind must survive purge
    os.makedirs(os.path.join(root, "var/log/phivault"), exist_ok=True)
    with open(os.path.join(root, "var/log/phivault/t.audit.jsonl"), "w") as f:
        f.write("{}\n")
    chroot(root, "dpkg", "--purge", "phivault")
    assert os.path.exists(os.path.join(root,
                                       "var/log/phivault/t.audit.jsonl"))
    assert not os.path.exists(os.path.join(root, "etc/phivault"))
    left = [p for p in listed if os.path.isfile(os.path.join(root, p[1:]))
            and not p.startswith("/var/log")]
    assert not left, "left behind after purge: %s" % left
    os.unlink(os.path.join(root, "var/log/phivault/t.audit.jsonl"))
    os.rmdir(os.path.join(root, "var/log/phivault"))


# ---- systemd units ---------------------------------------------------------

UNITS = os.path.join(ROOT, "packaging", "systemd")
NAMESPACING = ("PrivateTmp", "ProtectSystem", "ProtectHome", "ReadWritePaths",
               "ReadOnlyPaths", "InaccessiblePaths", "PrivateDevices",
               "ProtectKernelTunables", "ProtectKernelModules",
               "ProtectKernelLogs", "ProtectControlGroups", "ProtectProc",
               "TemporaryFileSystem", "BindPaths", "BindReadOnlyPaths",
               "PrivateMounts", "MountFlags", "RootDirectory", "RootImage",
               "StateDirectory" + "Mode=never")


def unit_settings(name):
    out = {}
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def test_systemd_units_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (apt-get install "
                    "systemd)")
    if not shutil.which("scdoc"):
        pytest.skip("scdoc is not installed")
    run("make", "-s", "man")
    mandir = tmp_path / "man"
    (mandir / "man1").mkdir(parents=True)
    (mandir / "man5").mkdir()
    for p in os.listdir(os.path.join(ROOT, "build", "man")):
        shutil.copy(os.path.join(ROOT, "build", "man", p),
                    mandir / ("man" + p[-1]) / p)
    inst = []
    for u in sorted(os.listdir(UNITS)):
        dst = tmp_path / u.replace("@.", "@test.")
        with open(os.path.join(UNITS, u)) as f:
            dst.write_text(f.read().replace("/usr/bin/phivault", BIN))
        inst.append(str(dst))
    r = run("systemd-analyze", "verify", *inst, check=False, cwd=tmp_path,
            env=dict(os.environ, MANPATH=str(mandir)))
    if "Failed to" in r.stderr and "bus" in r.stderr.lower():
        pytest.skip("systemd-analyze cannot run here: " + r.stderr)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_mount_unit_creates_no_mount_namespace():
    s = unit_settings("phivault-mount@.service")
    bad = [k for k in s if k in NAMESPACING]
    assert not bad, "these would hide the FUSE mount from the host: %s" % bad
    assert s["ExecStart"] == ["/usr/bin/phivault --volume %i mount -f"]
    assert "NoNewPrivileges" in s and "CapabilityBoundingSet" in s
    assert "SystemCallFilter" in s


def test_backup_and_drill_units_are_hardened_and_timed():
    for svc, tmr in (("phivault-backup@.service", "phivault-backup@.timer"),
                     ("phivault-drill@.service", "phivault-drill@.timer")):
        s = unit_settings(svc)
        for k, v in (("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
                     ("PrivateTmp", "yes"), ("ProtectHome", "read-only"),
                     ("StateDirectory", "phivault"),
                     ("SystemCallFilter", "@system-service")):
            assert s.get(k) == [v], "%s: %s" % (svc, k)
        assert "CapabilityBoundingSet" in s
        t = unit_settings(tmr)
        assert t["Persistent"] == ["true"] and "RandomizedDelaySec" in t
    assert "Sun" in unit_settings("phivault-drill@.timer")["OnCalendar"][0]


def test_cron_example_runs_backup_and_drill():
    with open(os.path.join(ROOT, "packaging", "cron", "phivault")) as f:
        lines = [l for l in f if l.strip() and not l.startswith("#")
                 and "=" not in l.split()[0]]
    text = "".join(lines)
    assert "--volume NAME backup" in text and "--volume NAME drill" in text
    for l in lines:
        assert len(l.split(None, 6)) == 7, "bad cron line: %r" % l


# ---- bash completion -------------------------------------------------------

COMP = os.path.join(ROOT, "packaging", "bash-completion", "phivault")


def complete(words, env=None):
    script = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _phivault; '
              'printf "%%s\\n" "${COMPREPLY[@]}"' %
              (COMP, " ".join("'%s'" % w for w in words), len(words) - 1))
    e = dict(os.environ, **(env or {}))
    return run("bash", "-c", script, env=e).stdout.split()


def test_bash_completion_registers():
    r = run("bash", "-c", "source %s; complete -p phivault" % COMP)
    assert "-F _phivault" in r.stdout


def test_bash_completion_completes_commands_options_and_volumes(tmp_path):
    names = [n for n, _ in commands()]
    assert complete([BIN, ""]) == sorted(names) or \
        set(complete([BIN, ""])) == set(names)
    assert complete([BIN, "do"]) == ["doctor"]
    assert "--keep-daily" in complete([BIN, "forget", "--keep-d"])
    (tmp_path / "ward.conf").write_text("cipherdir = /x\n")
    (tmp_path / "lab.conf").write_text("cipherdir = /y\n")
    env = {"PHIVAULT_CONFIG_DIR": str(tmp_path)}
    assert set(complete([BIN, "-V", ""], env)) == {"ward", "lab"}
    assert complete([BIN, "-V", "ward", "mou"], env) == ["mount"]
    assert set(complete([BIN, "doctor", ""], env)) == {"ward", "lab"}


# ---- configuration files and --volume ---------------------------------------

@pytest.fixture
def confdir(tmp_path):
    d = tmp_path / "etc"
    d.mkdir()
    os.chmod(d, 0o755)
    return d


def write_conf(d, name, text, mode=0o600):
    p = d / (name + ".conf")
    p.write_text(text)
    os.chmod(p, mode)
    return p


def pv(confdir, *args, env=None):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("PHIVAULT_") or k.startswith("AWS_"):
            del e[k]
    e["PHIVAULT_CONFIG_DIR"] = str(confdir)
    e.update(env or {})
    return run(BIN, *args, check=False, env=e, stdin=subprocess.DEVNULL)


def test_volume_supplies_positionals(confdir, tmp_path):
    write_conf(confdir, "v", "cipherdir = %s/nothere\n" % tmp_path)
    for form in (["-V", "v"], ["--volume", "v"], ["--volume=v"], ["-Vv"]):
        r = pv(confdir, *form, "info")
        assert r.returncode == 1
        assert "%s/nothere" % tmp_path in r.stderr, r.stderr


def test_volume_missing_positional_names_file_and_key(confdir):
    p = write_conf(confdir, "v", "cipherdir = /srv/x\n")
    r = pv(confdir, "-V", "v", "mount", "-f")
    assert r.returncode == 2
    assert str(p) in r.stderr and "'mountpoint'" in r.stderr


def test_volume_exports_repository_and_environment_wins(confdir, tmp_path):
    repo = tmp_path / "repo-from-file"
    write_conf(confdir, "v", "repository = %s\n" % repo)
    r = pv(confdir, "-V", "v", "snapshots")
    assert str(repo) in r.stderr
    other = tmp_path / "repo-from-env"
    r = pv(confdir, "-V", "v", "snapshots",
           env={"PHIVAULT_REPOSITORY": str(other)})
    assert str(other) in r.stderr and str(repo) not in r.stderr


@pytest.mark.parametrize("text,needle", [
    ("passphrase = hunter2\n", "secrets do not belong"),
    ("repo-passphrase = x\n", "secrets do not belong"),
    ("cipherdir = /a\ncipherdir = /b\n", ":2: 'cipherdir' is set twice"),
    ("\n# c\nmountpint = /m\n", ":3: unknown setting 'mountpint'"),
    ("cipherdir = relative\n", "must be an absolute path"),
    ("retention = forever\n", "must be a duration"),
    ("lock-mode = strict\n", "must be governance, compliance or none"),
    ("drill-sample = 2\n", "must be a fraction"),
    ("repository = ftp://x\n", "s3://BUCKET"),
    ("keep-daily = -1\n", "whole number"),
    ("cipherdir\n", "expected 'key = value'"),
])
def test_bad_configuration_is_refused_with_file_and_line(confdir, text,
                                                         needle):
    p = write_conf(confdir, "v", text)
    r = pv(confdir, "-V", "v", "info")
    assert r.returncode == 1
    assert str(p) in r.stderr and needle in r.stderr, r.stderr


@pytest.mark.parametrize("mode,needle", [
    (0o602, "writable by everyone"), (0o620, "writable by its group"),
    (0o666, "writable by everyone"),
])
def test_writable_configuration_is_refused(confdir, mode, needle):
    p = write_conf(confdir, "v", "cipherdir = /x\n", mode)
    if mode & 0o020:
        os.chown(p, -1, 100 if os.geteuid() == 0 else os.getegid())
    r = pv(confdir, "-V", "v", "info")
    if mode & 0o020 and os.stat(p).st_gid == 0:
        pytest.skip("cannot give the file a non-root group")
    assert r.returncode == 1 and needle in r.stderr and str(p) in r.stderr


def test_symlink_owned_by_another_user_is_refused(confdir, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a link owned by another user")
    target = write_conf(tmp_path, "real", "cipherdir = /x\n")
    link = confdir / "v.conf"
    os.symlink(target, link)
    os.lchown(link, 65534, 65534)
    r = pv(confdir, "-V", "v", "info")
    assert r.returncode == 1
    assert str(link) in r.stderr and "symbolic link owned by uid 65534" \
        in r.stderr
    os.lchown(link, 0, 0)
    r = pv(confdir, "-V", "v", "info")
    assert "symbolic link" not in r.stderr


def test_file_owned_by_another_user_is_refused(confdir):
    if os.geteuid() != 0:
        pytest.skip("needs root to chown")
    p = write_conf(confdir, "v", "cipherdir = /x\n", 0o644)
    os.chown(p, 65534, 0)
    r = pv(confdir, "-V", "v", "info")
    assert r.returncode == 1 and "owned by uid 65534" in r.stderr


def test_bad_volume_names_are_usage_errors(confdir):
    for name in ("../etc/x", ".hidden", "-x", "a/b", "x" * 65, ""):
        r = pv(confdir, "--volume", name, "info")
        assert r.returncode == 2, name


def test_example_configuration_parses(confdir):
    with open(os.path.join(ROOT, "packaging", "volume.conf.example")) as f:
        write_conf(confdir, "example", f.read())
    r = pv(confdir, "-V", "example", "version")
    assert r.returncode == 0, r.stderr


def test_every_setting_is_documented():
    with open(os.path.join(ROOT, "common", "conf.c")) as f:
        keys = re.findall(r'\[CONF_\w+\] = \{ "([a-z0-9-]+)"', f.read())
    with open(os.path.join(ROOT, "docs", "CONFIG.md")) as f:
        doc = f.read()
    assert len(keys) > 25
    for k in keys:
        assert "| `%s` |" % k in doc, "%s is not in docs/CONFIG.md" % k


# ---- doctor ----------------------------------------------------------------

def doctor_setup(confdir, tmp_path):
    d = tmp_path
    for sub in ("c", "m", "repo"):
        (d / sub).mkdir()
    (d / "pass").write_text("volume secret\n")
    (d / "rpass").write_text("repo secret\n")
    os.chmod(d / "pass", 0o600)
    os.chmod(d / "rpass", 0o600)
    write_conf(confdir, "v", "\n".join([
        "cipherdir = %s/c" % d, "mountpoint = %s/m" % d,
        "passphrase-file = %s/pass" % d, "repository = %s/repo" % d,
        "repo-passphrase-file = %s/rpass" % d, "lock-mode = none",
        "audit-log = %s/audit.jsonl" % d, ""]))
    for args in (["init", "--argon2", "1:64:1"],
                 ["repo", "init", "--argon2", "1:64:1"]):
        r = pv(confdir, "-V", "v", *args)
        assert r.returncode == 0, r.stderr


def lines_by_check(out):
    res = {}
    for line in out.splitlines():
        m = re.match(r"^(PASS|FAIL|SKIP)  (\S+)", line)
        if m:
            res[m.group(2)] = m.group(1)
    return res


def test_doctor_reports_each_check(confdir, tmp_path):
    doctor_setup(confdir, tmp_path)
    r = pv(confdir, "doctor", "v")
    got = lines_by_check(r.stdout)
    assert r.returncode == 1, r.stdout
    assert got["config"] == "PASS" and got["key"] == "PASS"
    assert got["mount"] == "FAIL" and "fix: systemctl start " \
        "phivault-mount@v" in r.stdout
    assert got["audit"] == "SKIP"
    assert got["repository"] == "PASS"
    assert got["lock"] == "SKIP" and got["clock"] == "SKIP"
    assert got["backup"] == "FAIL" and got["drill"] == "FAIL"

    assert pv(confdir, "-V", "v", "backup").returncode == 0
    r = pv(confdir, "-V", "v", "drill", "--no-lock-check")
    assert r.returncode == 0, r.stdout + r.stderr
    got = lines_by_check(pv(confdir, "-V", "v", "doctor").stdout)
    assert got["backup"] == "PASS" and got["drill"] == "PASS"


def test_doctor_fails_on_wrong_key_and_missing_repo_lock(confdir, tmp_path):
    doctor_setup(confdir, tmp_path)
    (tmp_path / "pass").write_text("not the secret\n")
    p = confdir / "v.conf"
    p.write_text(p.read_text().replace("lock-mode = none",
                                       "lock-mode = governance"))
    r = pv(confdir, "doctor", "v")
    got = lines_by_check(r.stdout)
    assert r.returncode == 1
    assert got["key"] == "FAIL" and got["lock"] == "FAIL"
    assert "no Object Lock" in r.stdout


def test_doctor_passes_the_mount_check_on_a_live_mount(confdir, tmp_path):
    if not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        pytest.skip("needs /dev/fuse and root")
    doctor_setup(confdir, tmp_path)
    r = pv(confdir, "-V", "v", "mount")
    assert r.returncode == 0, r.stderr
    try:
        got = lines_by_check(pv(confdir, "doctor", "v").stdout)
        assert got["mount"] == "PASS"
    finally:
        run("fusermount3", "-u", str(tmp_path / "m"), check=False)


def test_doctor_usage(confdir):
    assert pv(confdir, "doctor").returncode == 2
    r = pv(confdir, "doctor", "absent")
    assert r.returncode == 1 and "absent.conf" in r.stdout
