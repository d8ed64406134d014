#!/usr/bin/env python3
"""Writes the same ~100 host checks three ways, for bench/host-checks.sh:

  <work>/serverspec/spec/bench_spec.rb   serverspec (rspec, :exec backend)
  <work>/testinfra/test_bench.py         testinfra (pytest, local backend)
  <work>/native/bench.yml                stepwise host-checks spec

and a 1,000-check native spec of in-process checks (files, users, ports):

  <work>/native/thousand.yml

usage: generate.py WORK PORT[,PORT...] PROCESS[,PROCESS...]
The data files must exist in WORK/data (f00 ... f399, mode 0644).
"""
import os
import sys

work, ports, procs = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
data = os.path.join(work, "data")
files = [os.path.join(data, "f%02d" % i) for i in range(30)]
mode_files = files[:20]
users = [l.split(":")[0] for l in open("/etc/passwd") if l.strip() and not l.startswith("#")][:10]
groups = [l.split(":")[0] for l in open("/etc/group") if l.strip() and not l.startswith("#")][:10]
ports = (ports * 10)[:10]
commands = ["hello-%d" % i for i in range(10)]
packages = ["bash", "coreutils", "dpkg", "libc6", "ruby"]

total = len(files) + len(mode_files) + len(users) + len(groups) + len(ports) + len(commands) + len(procs) + len(packages)

os.makedirs(os.path.join(work, "serverspec/spec"), exist_ok=True)
with open(os.path.join(work, "serverspec/spec/bench_spec.rb"), "w") as f:
    f.write("require 'serverspec'\nset :backend, :exec\n\n")
    for p in files:
        f.write("describe file('%s') do\n  it { should be_file }\nend\n" % p)
    for p in mode_files:
        f.write("describe file('%s') do\n  it { should be_mode 644 }\nend\n" % p)
    for u in users:
        f.write("describe user('%s') do\n  it { should exist }\nend\n" % u)
    for g in groups:
        f.write("describe group('%s') do\n  it { should exist }\nend\n" % g)
    for p in ports:
        f.write("describe port(%s) do\n  it { should be_listening }\nend\n" % p)
    for c in commands:
        f.write("describe command('echo %s') do\n  its(:stdout) { should match /%s/ }\nend\n" % (c, c))
    for p in procs:
        f.write("describe process('%s') do\n  it { should be_running }\nend\n" % p)
    for p in packages:
        f.write("describe package('%s') do\n  it { should be_installed }\nend\n" % p)

os.makedirs(os.path.join(work, "testinfra"), exist_ok=True)
with open(os.path.join(work, "testinfra/test_bench.py"), "w") as f:
    f.write("import pytest\n\n")
    for name, values in [("FILES", files), ("MODE_FILES", mode_files), ("USERS", users), ("GROUPS", groups),
                         ("PORTS", ports), ("COMMANDS", commands), ("PROCS", procs), ("PACKAGES", packages)]:
        f.write("%s = %r\n" % (name, values))
    f.write('''

@pytest.mark.parametrize("p", FILES)
def test_file(host, p):
    assert host.file(p).is_file


@pytest.mark.parametrize("p", MODE_FILES)
def test_mode(host, p):
    assert host.file(p).mode == 0o644


@pytest.mark.parametrize("u", USERS)
def test_user(host, u):
    assert host.user(u).exists


@pytest.mark.parametrize("g", GROUPS)
def test_group(host, g):
    assert host.group(g).exists


@pytest.mark.parametrize("port", PORTS)
def test_port(host, port):
    assert host.socket("tcp://127.0.0.1:%s" % port).is_listening


@pytest.mark.parametrize("c", COMMANDS)
def test_command(host, c):
    assert c in host.run("echo %s" % c).stdout


@pytest.mark.parametrize("name", PROCS)
def test_process(host, name):
    assert host.process.filter(comm=name)


@pytest.mark.parametrize("p", PACKAGES)
def test_package(host, p):
    assert host.package(p).is_installed
''')

os.makedirs(os.path.join(work, "native"), exist_ok=True)
with open(os.path.join(work, "native/bench.yml"), "w") as f:
    for p in files:
        f.write("- file: %s\n  type: file\n" % p)
    for p in mode_files:
        f.write("- file: %s\n  mode: '0644'\n" % p)
    for u in users:
        f.write("- user: %s\n" % u)
    for g in groups:
        f.write("- group: %s\n" % g)
    for p in ports:
        f.write("- port: %s\n" % p)
    for c in commands:
        f.write("- command: echo %s\n  stdout: {match: %s}\n" % (c, c))
    for p in procs:
        f.write("- process: %s\n" % p)
    for p in packages:
        f.write("- package: %s\n" % p)

with open(os.path.join(work, "native/thousand.yml"), "w") as f:
    for i in range(400):
        f.write("- file: %s\n  type: file\n" % os.path.join(data, "f%02d" % i))
    for i in range(300):
        f.write("- user: %s\n  uid: {ge: 0}\n" % users[i % len(users)])
    for i in range(300):
        f.write("- port: %s\n" % ports[i % len(ports)])

print(total)
