#!/usr/bin/env bash
# One set-up step for both README commands: Debian packages, bpffs, npm dependencies, the TypeScript
# build and the BPF objects. Idempotent: when everything is in place it only checks, in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "cnilab setup: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root: cnilab installs packages, creates network namespaces and loads BPF programs"
[ -e /proc/sys/kernel/unprivileged_bpf_disabled ] || fail "this kernel has no BPF system call (needs CONFIG_BPF_SYSCALL)"
[ -e /sys/kernel/btf/vmlinux ] || echo "cnilab setup: warning: no kernel BTF (/sys/kernel/btf/vmlinux); the datapath does not need it, some tools do" >&2

# Debian packages: the kernel tools, the BPF toolchain, libmnl (the agent's netlink calls), the
# traffic tools, the reference CNI plugins, Chromium for the tests that look at the HTML reports as
# a person would, prometheus for `promtool check metrics` on the flow metrics, dnsmasq-base (the
# binary alone, no system service) for the DNS server pods of the L7 visibility tests, iptables for
# the kube-proxy baseline of the service benchmarks, wrk for HTTP load through a service, and curl,
# with which the faults suite asks a node's agent API through its socket
# (harness/providers/kubeconfig/faults.ts).
PKGS=(iproute2 util-linux procps curl make clang llvm libbpf-dev libmnl-dev bpftool iperf3 sockperf bird2 tcpdump iputils-ping containernetworking-plugins chromium prometheus dnsmasq-base iptables wrk)
# A real container runtime calling the CNI plugin (harness/cri): Debian's containerd (CRI plugin) and
# runc, and musl-gcc for the static pause binary of the sandbox image.
PKGS+=(containerd runc musl-tools)
# kubectl for the Kubernetes API tests: Debian's kubernetes-client, unless a kubectl is already
# installed (the machine image may ship Google's kubectl package, which owns /usr/bin/kubectl too).
command -v kubectl >/dev/null 2>&1 || PKGS+=(kubernetes-client)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "cnilab setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Only promtool is wanted from the prometheus package: do not leave its server running.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# bpffs at /sys/fs/bpf: pins of the datapath's maps live there.
if ! grep -qs ' /sys/fs/bpf bpf ' /proc/mounts; then
  mount -t bpf bpf /sys/fs/bpf || fail "cannot mount bpffs at /sys/fs/bpf (needs CONFIG_BPF_SYSCALL and a writable /sys/fs/bpf)"
fi

# npm dependencies, reinstalled only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "cnilab setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# TypeScript → dist/, only when a source changed since the last build.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find lib harness agent scenarios reports bench bpf tsconfig.json package.json -newer "$stamp" \( -name '*.ts' -o -name '*.json' \) ! -name '*.test.ts' -print -quit 2>/dev/null)" ]; then
  echo "cnilab setup: compiling TypeScript" >&2
  npx tsc -p tsconfig.json
  touch "$stamp"
fi

# BPF objects and the CNI plugin's C entry point (make rebuilds only what changed).
make -s -C bpf
make -s -C agent/cni/shim CC=clang
# The agent's small C libraries loaded through koffi: the batched ring buffer reader, and a pod's
# network set-up over rtnetlink (libmnl).
make -s -C agent/datapath/native CC=clang
make -s -C harness/traffic/crr CC=clang
# The sandbox image's pause binary (static, musl), imported into each node's containerd by the CRI tests.
make -s -C harness/cri/pause
