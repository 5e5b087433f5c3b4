# SPDX-License-Identifier: MIT
"""
The bash completion (packaging/bash-completion/phivault) against the
binary's own help: every command, every verb and every option that
`phivault help` and `phivault help CMD` print must be completed, and
commands whose usage says "unlock options" must complete each unlock
option tools/secret.h and tools/keysrc.h define.  A new row or option in
the table of tools/phivault.c that the completion misses fails here.

Run: /usr/bin/python3 -m pytest tests/packaging/test_completion.py
"""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = None		# a private copy, see built()
COMP = os.path.join(ROOT, "packaging", "bash-completion", "phivault")
LONG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT_RE = re.compile(r"(?<![\w-])-[A-Za-z](?![\w-])")
UNLOCK_RE = re.compile(r"unlock opt|--passphrase-file F \| \.\.\.")


def run(*args, env=None):
    r = subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT,
                       env=env)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


@pytest.fixture(scope="module", autouse=True)
def built(tmp_path_factory):
    """Build, then complete against a copy: other work in the tree may
    relink ./phivault while the completion runs it."""
    global BIN
    run("make", "-s", "phivault")
    BIN = str(tmp_path_factory.mktemp("bin") / "phivault")
    shutil.copy2(os.path.join(ROOT, "phivault"), BIN)


def table():
    """{name: (usage, help text)} for every row of the command table."""
    out = run(BIN, "help")
    body = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in body.splitlines():
        name = line.split()[0]
        text = run(BIN, "help", name)
        usage = text.splitlines()[0][len("usage: phivault "):]
        help_text = text.split("\n\n")[1]
        rows[name] = (usage, help_text)
    return rows


def verbs(name, usage):
    """The verbs a usage line names: 'key list|add|...', 'drill
    [run|verify REPORT...|history]', 'policy check FILE | policy set ...'."""
    out = []
    alts = re.split(r" \| %s " % re.escape(name), usage)
    alts[0] = alts[0][len(name):].lstrip()
    for a in alts:
        if a.startswith("["):
            a = a[1:a.index("]")]
        else:
            a = a.split(" ")[0]
        for w in a.split("|"):
            w = w.strip().split(" ")[0]
            if re.fullmatch(r"[a-z][a-z-]*", w):
                out.append(w)
    return out


def options(usage, help_text):
    """Long options anywhere in the row; short ones from the usage line
    only, as the help text also quotes other programs ('fusermount3 -u')."""
    return set(LONG_RE.findall(usage + "\n" + help_text)) | \
        set(SHORT_RE.findall(usage))


def header_longopts(path, macro):
    with open(os.path.join(ROOT, path)) as f:
        src = f.read()
    body = src.split("#define %s" % macro, 1)[1].split("\n\n", 1)[0]
    return {"--" + n for n in re.findall(r'\{ "([a-z0-9-]+)"', body)}


UNLOCK = None


def unlock_options():
    global UNLOCK
    if UNLOCK is None:
        UNLOCK = header_longopts("tools/secret.h", "SECRET_LONGOPTS") | \
            header_longopts("tools/keysrc.h", "KEYSRC_LONGOPTS")
        assert "--passphrase-file" in UNLOCK and "--key-command" in UNLOCK
    return UNLOCK


def complete(words, env=None):
    script = ('source "$1"; shift; COMP_WORDS=("$@"); '
              'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _phivault; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    e = dict(os.environ, **(env or {}))
    return run("bash", "-c", script, "bash", COMP, *words, env=e).split()


def test_the_usage_parser_finds_the_known_verbs():
    rows = table()
    assert verbs("key", rows["key"][0])[:3] == ["list", "add", "remove"]
    assert verbs("drill", rows["drill"][0]) == ["run", "verify", "history"]
    assert verbs("policy", rows["policy"][0]) == \
        ["check", "set", "remove", "explain"]
    assert verbs("audit", rows["audit"][0]) == ["verify", "report"]
    assert verbs("repo", rows["repo"][0]) == ["init"]
    for n in ("mount", "init", "backup", "restore", "doctor", "help",
              "prune", "grant"):
        assert verbs(n, rows[n][0]) == [], n


def test_every_command_is_completed():
    names = set(table())
    assert set(complete([BIN, ""])) == names
    assert set(complete([BIN, "-V", "ward", ""])) == names
    assert set(complete([BIN, "--volume=ward", ""])) == names


def test_global_options_are_completed():
    got = set(complete([BIN, "-"]))
    assert {"-V", "--volume"} <= got


@pytest.mark.parametrize("prefix", [[], ["-V", "ward"]])
def test_every_verb_is_completed(prefix):
    missing = []
    for name, (usage, _) in table().items():
        want = set(verbs(name, usage))
        if not want:
            continue
        got = set(complete([BIN, *prefix, name, ""]))
        missing += ["%s %s" % (name, v) for v in sorted(want - got)]
    assert not missing, "not completed: %s" % ", ".join(missing)


@pytest.mark.parametrize("prefix", [[], ["-V", "ward"]])
def test_every_option_in_the_help_table_is_completed(prefix):
    missing = []
    for name, (usage, help_text) in table().items():
        vs = verbs(name, usage)
        words = [BIN, *prefix, name] + vs[:1]
        want = options(usage, help_text)
        if UNLOCK_RE.search(usage + "\n" + help_text):
            want |= unlock_options()
        got = set(complete(words + ["-"]))
        missing += ["%s %s" % (name, o) for o in sorted(want - got)]
        # and a prefix of each narrows to it
        for o in sorted(want):
            if o in got and o not in complete(words + [o[:-1]]):
                missing.append("%s %s (from %s)" % (name, o, o[:-1]))
    assert not missing, "not completed: %s" % ", ".join(missing)


def test_recovery_subverbs_are_completed():
    got = set(complete([BIN, "key", "recovery", ""]))
    assert {"new", "split", "combine", "keyfile"} <= got


def test_doctor_and_help_arguments(tmp_path):
    (tmp_path / "ward.conf").write_text("cipherdir = /x\n")
    env = {"PHIVAULT_CONFIG_DIR": str(tmp_path)}
    assert complete([BIN, "doctor", ""], env) == ["ward"]
    assert complete([BIN, "help", "ret"]) == ["retention"]
