#!/usr/bin/env bash
# Leak test of the bridge network with the in-process CNI plugins (or Debian's with
# BERTH_CNI_EXEC=1): BERTH_NET_CYCLES (default 50) run/rm cycles on the default bridge, every
# other one publishing a port, leave the same bridge ports, leases, netns files and iptables
# rules as before; the rules of a container whose monitor and init were killed -9 go with rm;
# a user network's rules go with `network rm`; parallel starts on a fresh root get one
# default network and distinct addresses.
source "$(dirname "$0")/lib.sh"
command -v iptables-save >/dev/null || { echo "SKIP: no iptables"; exit 77; }
import_busybox
N=${BERTH_NET_CYCLES:-50}
# Containers started at once on a fresh root: one default network, distinct addresses.
for i in 1 2 3 4; do b run -d --name par$i busybox sleep 600 >/dev/null & done
wait
ips=$(for i in 1 2 3 4; do b inspect par$i 2>/dev/null | grep -o '"IPAddress": "[0-9.]*"' | head -1 || true; done)
(( $(sort -u <<<"$ips" | grep -c IPAddress) == 4 )) || fail "parallel starts: $ips"
b rm -f par1 par2 par3 par4 >/dev/null 2>&1 || true
b run --rm busybox true >/dev/null  # the default network and its per-network rules exist
br=$(b network inspect bridge | sed -n 's/.*"Bridge": "\(.*\)".*/\1/p' | head -1)
sub=$(b network inspect bridge | sed -n 's/.*"Subnet": "\(.*\)\.0\/24".*/\1/p' | head -1)
[[ -n "$br" && -n "$sub" ]] || fail "no bridge/subnet for the default network"
# Only what belongs to this root counts: other tests may run at the same time.
count() {
  local ports leases netns rules
  ports=$(ls "/sys/class/net/$br/brif" 2>/dev/null | wc -l)
  leases=$(ls "$RUN/cni/ipam/bridge" 2>/dev/null | grep -vc -e '^lock$' -e '^last_reserved' || true)
  netns=$(ls "$RUN/netns" 2>/dev/null | wc -l)
  rules=$(iptables-save | grep -c -e "$br" -e "$sub\." || true)
  echo "bridge-ports=$ports leases=$leases netns=$netns rules=$rules"
}
before=$(count)
port=$(free_port)
for i in $(seq 1 "$N"); do
  if (( i % 2 )); then
    b run --rm -p "127.0.0.1:$port:80" busybox true >/dev/null || fail "cycle $i (with -p)"
  else
    b run --rm busybox true >/dev/null || fail "cycle $i"
  fi
done
expect_eq "$(count)" "$before" "after $N cycles"

# A published container whose monitor and processes die by kill -9: rm still removes all.
b run -d --name crash$$ -p "$port:80" busybox sleep 600 >/dev/null
ip=$(b inspect crash$$ | sed -n 's/.*"IPAddress": "\(.*\)".*/\1/p' | head -1)
[[ -n "$ip" ]] || ip=$(b inspect crash$$ | grep -o "\"$sub\.[0-9]*\"" | head -1 | tr -d '"')
[[ -n "$ip" ]] || fail "no IP for crash$$"
(( $(iptables-save | grep -c -- "--to-destination $ip:80") == 1 )) || fail "DNAT rule for $ip"
pid=$(b inspect crash$$ | sed -n 's/.*"Pid": \([0-9]*\).*/\1/p')
mon=$(pgrep -f "berth-monitor root=$ROOT runroot=$RUN " | head -1)
[[ -n "$pid" && -n "$mon" ]] || fail "no pid/monitor for crash$$"
kill -9 "$mon" "$pid"
sleep 0.3
b ps -a >/dev/null
b rm -f crash$$ >/dev/null || fail "rm after kill -9"
(( $(iptables-save | grep -c -- "--to-destination $ip:80") == 0 )) || fail "DNAT rule left after rm"
expect_eq "$(count)" "$before" "after kill -9 and rm"

# A user network: its rules exist while it does and go with `network rm`.
net="leak$$"
b network create "$net" >/dev/null
nbr=$(b network inspect "$net" | sed -n 's/.*"Bridge": "\(.*\)".*/\1/p' | head -1)
b run --rm --network "$net" -p "127.0.0.1:$port:80" busybox true >/dev/null || fail "run on $net"
(( $(iptables-save | grep -c -- "$nbr\b") > 0 )) || [[ -n "${BERTH_CNI_EXEC:-}" ]] || fail "no rules for $nbr"
b network rm "$net" >/dev/null
(( $(iptables-save | grep -c -- "-$nbr\b") == 0 )) || fail "rules of $nbr left after network rm"
[[ ! -e "/sys/class/net/$nbr" ]] || fail "bridge $nbr left"
echo "network_leak: ok ($N cycles)"
