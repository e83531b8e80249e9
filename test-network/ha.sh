#!/usr/bin/env bash
# The high-availability profile of the development network: the same
# channel and chaincode as network.sh, on
#   - 3 Raft orderers (the channel keeps ordering with one of them lost),
#   - 2 peers for each organisation that runs peers (Providers, Research),
#     both peers of an organisation known to its clients under one gateway
#     name, gateway.<domain>,
#   - one chaincode server per organisation, which both its peers use,
#   - MinIO as 4 nodes with erasure coding (2 data, 2 parity shards per
#     object: one node lost loses nothing, and writes go on),
#   - 2 instances of each service (consent, records, ingest, research), each
#     with its own state folder; their clients are given both (network.json
#     services.NAME.grpc lists them, separated by a comma) and carry on
#     against the other when one goes.
# Every node is a host of its own: a network namespace (hxha-NODE) with its
# own address on 10.231.0.0/24 (HX_HA_NET), linked by a veth pair to a bridge
# (hxha0, address .1) that this script creates; the processes on this machine
# (the tests, the CLIs) reach every node through the bridge. Cutting a node's
# link (ha.sh cut NODE) partitions it from all the others.
#
# Without root there are no namespaces: every node then listens on an
# address of its own in 127.0.1.0/24 (all loopback on Linux), and cut/heal
# refuse (no partition tests).
#
#   ha.sh up            build what is missing, make the hosts, start every
#                       node, create the channel, deploy the chaincode, wait
#                       until it answers on all four peers
#   ha.sh down          stop every process this script started (by pid),
#                       remove its namespaces, links and bridge, and its state
#   ha.sh status        say what runs
#   ha.sh with CMD      run CMD with the profile up, taking it down again
#                       afterwards if this call started it
#   ha.sh stop NODE     stop one node (SIGKILL: a crash, not a shutdown)
#   ha.sh start NODE    start a stopped node again (same state, same address)
#   ha.sh cut NODE      cut the node's link to the bridge (a partition)
#   ha.sh heal NODE     restore it
#   ha.sh nodes         list the nodes and their addresses
#   ha.sh leader        the Raft leader's node name (orderer0..2), as the
#                       orderers' operations endpoints report it
#   ha.sh height NODE   the channel's block height on an orderer or a peer
#
# Clients find the network through $HX_HA_STATE/network.json (the same shape
# as the default network's, each organisation with the list of its peers in
# peerEndpoints) and MinIO through $HX_HA_STATE/minio/minio.json (every node
# in failover).
set -euo pipefail
umask 077

ha_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${HX_CACHE:=$(cd "$ha_here/.." && pwd)/.cache}"
: "${HX_HA_STATE:=$HX_CACHE/network-ha}"
export HX_CACHE HX_STATE="$HX_HA_STATE"

# Everything network.sh does that is the same here (binaries, processes,
# TLS material, identity providers, the chaincode package, "with"); the
# functions below that share its names (up, down, status, all_alive,
# config_tokens) replace its own.
HX_NETWORK_LIB=1 . "$ha_here/network.sh"
hx_name=network-ha

bridge=hxha0
if [ "$(id -u)" = 0 ]; then
  : "${HX_HA_NET:=10.231.0}"
  namespaces=1
else
  : "${HX_HA_NET:=127.0.1}"
  namespaces=0
fi

# Each node and the last byte of its address.
declare -A node_host=(
  [orderer0]=11 [orderer1]=12 [orderer2]=13
  [providers-peer0]=21 [providers-peer1]=22 [providers-chaincode]=23
  [research-peer0]=31 [research-peer1]=32 [research-chaincode]=33
  [minio0]=41 [minio1]=42 [minio2]=43 [minio3]=44
  [consent-a]=51 [consent-b]=52 [records-a]=53 [records-b]=54
  [ingest-a]=55 [ingest-b]=56 [research-a]=57 [research-b]=58
)
orderers=(orderer0 orderer1 orderer2)
peer_orgs=(providers research)
minios=(minio0 minio1 minio2 minio3)
services=(consent records ingest research)
service_nodes=(consent-a consent-b records-a records-b ingest-a ingest-b research-a research-b)
all_nodes=("${orderers[@]}" providers-peer0 providers-peer1 research-peer0 research-peer1
  providers-chaincode research-chaincode "${minios[@]}" "${service_nodes[@]}")

# The ports, the same on every host.
orderer_port=7050 orderer_admin_port=7053 orderer_ops_port=9443
peer_port_ha=7051 peer_cc_port=7052 peer_ops_port=9444 ccaas_port_ha=9999 minio_port=9000
service_grpc_port=8443 service_http_port=8444

ip_of() { printf '%s.%s' "$HX_HA_NET" "${node_host[$1]:?unknown node $1}"; }
ns_of() { printf 'hxha-%s' "$1"; }
veth_of() { printf 'hxha%s' "${node_host[$1]}"; }

# on NODE: the words that run a command on the node's host (none without
# namespaces), for start NAME $(on NODE) CMD...
on() {
  [ $namespaces = 1 ] || return 0
  printf '%s\n' "$(command -v ip)" netns exec "$(ns_of "$1")"
}

# ------------------------------------------------------------------ hosts ---

hosts_up() {
  [ $namespaces = 1 ] || {
    log "not root: no network namespaces; every node on its own address in $HX_HA_NET.0/24 (loopback), no partitions"
    return 0
  }
  log "making the hosts: bridge $bridge ($HX_HA_NET.1/24) and a namespace per node"
  ip link add "$bridge" type bridge
  ip addr add "$HX_HA_NET.1/24" dev "$bridge"
  ip link set "$bridge" up
  local n ns veth
  for n in "${all_nodes[@]}"; do
    ns="$(ns_of "$n")" veth="$(veth_of "$n")"
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$bridge" up
    ip -n "$ns" addr add "$(ip_of "$n")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
}

hosts_down() {
  [ $namespaces = 1 ] || return 0
  local n
  for n in "${all_nodes[@]}"; do
    ip link del "$(veth_of "$n")" 2>/dev/null || true
    ip netns del "$(ns_of "$n")" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
}

# ---------------------------------------------------------- environments ---

config_tokens() {
  local o specs=() endpoints=() consenters=() tls
  for o in "${orderers[@]}"; do
    specs+=("{Hostname: $o, SANS: [$(ip_of "$o")]}")
    endpoints+=("$(ip_of "$o"):$orderer_port")
    tls="$orderer_dir/orderers/$o.orderer.hx.local/tls/server.crt"
    consenters+=("{Host: $(ip_of "$o"), Port: $orderer_port, ClientTLSCert: $tls, ServerTLSCert: $tls}")
  done
  peer_specs() { # org
    printf '[{Hostname: peer0, SANS: [%s, gateway.%s.hx.local]}, {Hostname: peer1, SANS: [%s, gateway.%s.hx.local]}]' \
      "$(ip_of "$1-peer0")" "$1" "$(ip_of "$1-peer1")" "$1"
  }
  local IFS=,
  tokens=(
    "STATE=$HX_STATE"
    "ORDERER_SPECS=[${specs[*]}]"
    "PROVIDERS_PEERS=$(peer_specs providers)"
    "RESEARCH_PEERS=$(peer_specs research)"
    "ORDERER_ENDPOINTS=[${endpoints[*]}]"
    "PROVIDERS_ANCHORS=[{Host: $(ip_of providers-peer0), Port: $peer_port_ha}]"
    "RESEARCH_ANCHORS=[{Host: $(ip_of research-peer0), Port: $peer_port_ha}]"
    "CONSENTERS=[${consenters[*]}]"
  )
}

orderer_env_ha() { # orderer
  local o="$1" ip tls
  ip="$(ip_of "$o")"
  tls="$orderer_dir/orderers/$o.orderer.hx.local/tls"
  orderer_env
  export ORDERER_GENERAL_LISTENADDRESS="$ip"
  export ORDERER_GENERAL_LISTENPORT="$orderer_port"
  export ORDERER_GENERAL_LOCALMSPDIR="$orderer_dir/orderers/$o.orderer.hx.local/msp"
  export ORDERER_GENERAL_TLS_PRIVATEKEY="$tls/server.key"
  export ORDERER_GENERAL_TLS_CERTIFICATE="$tls/server.crt"
  export ORDERER_GENERAL_TLS_ROOTCAS="[$tls/ca.crt]"
  # Raft between the orderers, on the same listener, each proving itself
  # with its TLS certificate (the one the channel names as its consenter).
  export ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE="$tls/server.crt"
  export ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY="$tls/server.key"
  export ORDERER_GENERAL_CLUSTER_ROOTCAS="[$tls/ca.crt]"
  export ORDERER_ADMIN_LISTENADDRESS="$ip:$orderer_admin_port"
  export ORDERER_ADMIN_TLS_PRIVATEKEY="$tls/server.key"
  export ORDERER_ADMIN_TLS_CERTIFICATE="$tls/server.crt"
  export ORDERER_ADMIN_TLS_ROOTCAS="[$tls/ca.crt]"
  export ORDERER_ADMIN_TLS_CLIENTROOTCAS="[$tls/ca.crt]"
  export ORDERER_FILELEDGER_LOCATION="$HX_STATE/$o/ledger"
  export ORDERER_CONSENSUS_WALDIR="$HX_STATE/$o/wal"
  export ORDERER_CONSENSUS_SNAPDIR="$HX_STATE/$o/snapshot"
  export ORDERER_OPERATIONS_LISTENADDRESS="$ip:$orderer_ops_port"
  # The peers ping their orderer connections every 5 s (below): allow it.
  export ORDERER_GENERAL_KEEPALIVE_SERVERMININTERVAL=4s
  # The operations endpoint's /metrics says which orderer leads (ha.sh leader).
  export ORDERER_METRICS_PROVIDER=prometheus
}

peer_env_ha() { # org index
  local org="$1" i="$2" ip other
  peer_env "$org"
  ip="$(ip_of "$org-peer$i")"
  other="$(ip_of "$org-peer$((1 - i))")"
  peer_tls="$org_dir/peers/peer$i.$org_domain/tls"
  export CORE_PEER_ID="peer$i.$org_domain"
  export CORE_PEER_ADDRESS="$ip:$peer_port_ha"
  export CORE_PEER_LISTENADDRESS="$ip:$peer_port_ha"
  export CORE_PEER_CHAINCODEADDRESS="$ip:$peer_cc_port"
  export CORE_PEER_CHAINCODELISTENADDRESS="$ip:$peer_cc_port"
  # Each peer learns of its organisation's other peer from it directly, and
  # of the other organisation's peers through the anchor peers.
  export CORE_PEER_GOSSIP_BOOTSTRAP="$other:$peer_port_ha"
  export CORE_PEER_GOSSIP_EXTERNALENDPOINT="$ip:$peer_port_ha"
  export CORE_PEER_MSPCONFIGPATH="$org_dir/peers/peer$i.$org_domain/msp"
  export CORE_PEER_TLS_CERT_FILE="$peer_tls/server.crt"
  export CORE_PEER_TLS_KEY_FILE="$peer_tls/server.key"
  export CORE_PEER_TLS_ROOTCERT_FILE="$peer_tls/ca.crt"
  export CORE_PEER_FILESYSTEMPATH="$HX_STATE/$org-peer$i"
  export CORE_LEDGER_SNAPSHOTS_ROOTDIR="$HX_STATE/$org-peer$i/snapshots"
  export CORE_OPERATIONS_LISTENADDRESS="$ip:$peer_ops_port"
  # A peer takes its blocks from one orderer. When that orderer is cut off
  # (no reset, just silence) the peer notices only by its keepalive pings:
  # every 5 s, 3 s to answer, instead of 60 s and 20 s, so it moves to
  # another orderer within about 8 s rather than 80.
  export CORE_PEER_KEEPALIVE_DELIVERYCLIENT_INTERVAL=5s
  export CORE_PEER_KEEPALIVE_DELIVERYCLIENT_TIMEOUT=3s
  export CORE_PEER_KEEPALIVE_CLIENT_INTERVAL=5s
  export CORE_PEER_KEEPALIVE_CLIENT_TIMEOUT=3s
  # The gateway sends each transaction to an orderer; one that cannot be
  # reached is given up after 3 s (not 2 minutes) and the next one tried.
  export CORE_PEER_GATEWAY_DIALTIMEOUT=3s
  # The operations endpoint's /metrics gives the peer's height (ha.sh height).
  export CORE_METRICS_PROVIDER=prometheus
  export HX_CCAAS_ADDRESS="$(ip_of "$org-chaincode"):$ccaas_port_ha"
}

admin_env_ha() { # org index
  admin_env "$1"
  export CORE_PEER_ADDRESS="$(ip_of "$1-peer$2"):$peer_port_ha"
}

# ------------------------------------------------------------------ nodes ---

# start_node NODE: start the node's process on its host (its state stays
# between a stop and a start).
start_node() {
  local node="$1" org i
  case "$node" in
  orderer*)
    (orderer_env_ha "$node" && start "$node" $(on "$node") orderer) ;;
  *-peer*)
    org="${node%-peer*}" i="${node##*-peer}"
    (peer_env_ha "$org" "$i" && start "$node" $(on "$node") peer node start) ;;
  *-chaincode)
    (
      export CHAINCODE_ID="$package_id"
      export CHAINCODE_SERVER_ADDRESS="$(ip_of "$node"):$ccaas_port_ha"
      export CHAINCODE_TLS_KEY_FILE="$HX_STATE/chaincode-tls/server.key"
      export CHAINCODE_TLS_CERT_FILE="$HX_STATE/chaincode-tls/server.crt"
      start "$node" $(on "$node") "$HX_STATE/bin/health-chaincode"
    ) ;;
  minio*) start_minio "$node" ;;
  consent-* | records-* | ingest-* | research-*) start_service "$node" ;;
  *) fail "unknown node $node" ;;
  esac
}

wait_node() { # node
  local node="$1"
  case "$node" in
  orderer*) wait_for "$node's operations endpoint" "$logs/$node.log" http_ok "http://$(ip_of "$node"):$orderer_ops_port/healthz" ;;
  *-peer*) wait_for "$node" "$logs/$node.log" http_ok "http://$(ip_of "$node"):$peer_ops_port/healthz" ;;
  minio*) wait_for "$node" "$logs/$node.log" minio_ok "$node" /minio/health/live ;;
  consent-* | records-* | ingest-* | research-*) wait_for "$node" "$logs/$node.log" service_ok "$node" ;;
  *) ;;
  esac
}

stop_node() { # node: SIGKILL, as a crash would
  local f="$pids/$1.pid" pid
  [ -f "$f" ] || fail "$1 is not running (no pid file)"
  pid="$(cat "$f")"
  log "killing $1 (pid $pid)"
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$f"
}

link() { # node up|down
  [ $namespaces = 1 ] || fail "no namespaces (not root): links cannot be cut"
  ip link set "$(veth_of "$1")" "$2"
  log "$1: link $2"
}

# ------------------------------------------------------------------ MinIO ---

minio_dir="$HX_STATE/minio"

make_minio_credentials() {
  mkdir -p "$minio_dir"
  chmod 700 "$minio_dir"
  printf 'MINIO_ROOT_USER=hx%s\nMINIO_ROOT_PASSWORD=%s\n' \
    "$(openssl rand -hex 8)" "$(openssl rand -hex 24)" >"$minio_dir/credentials.env"
  chmod 600 "$minio_dir/credentials.env"
}

# MinIO speaks TLS here (its nodes are not on loopback): one certificate
# naming every node's address, from a CA made for this profile, which the
# nodes trust for each other and the clients are given (minio.json caFile).
make_minio_tls() {
  local sans="" m
  for m in "${minios[@]}"; do sans+=",IP:$(ip_of "$m")"; done
  HX_TLS_EXTRA_SANS="$sans" make_tls "$HX_STATE/minio-tls" hx-minio-ca minio:-:serverAuth,clientAuth
  mkdir -p "$minio_dir/certs/CAs"
  cp "$HX_STATE/minio-tls/minio.crt" "$minio_dir/certs/public.crt"
  cp "$HX_STATE/minio-tls/minio.key" "$minio_dir/certs/private.key"
  cp "$HX_STATE/minio-tls/ca.crt" "$minio_dir/certs/CAs/ca.crt"
}

minio_ok() { # node path
  curl -fsS -o /dev/null --max-time 2 --cacert "$HX_STATE/minio-tls/ca.crt" "https://$(ip_of "$1"):$minio_port$2"
}

start_minio() { # node
  local node="$1" m endpoints=()
  for m in "${minios[@]}"; do endpoints+=("https://$(ip_of "$m"):$minio_port$minio_dir/$m"); done
  mkdir -p "$minio_dir/$node"
  (
    set -a
    # shellcheck source=/dev/null
    . "$minio_dir/credentials.env"
    set +a
    export MINIO_UPDATE=off MINIO_BROWSER=off
    start "$node" $(on "$node") \
      "$minio_bin" server --quiet --address "$(ip_of "$node"):$minio_port" \
      --certs-dir "$minio_dir/certs" "${endpoints[@]}"
  )
}

write_minio_config() {
  local m failover=()
  for m in "${minios[@]:1}"; do failover+=("$(ip_of "$m"):$minio_port"); done
  jq -n --arg endpoint "$(ip_of minio0):$minio_port" --arg creds "$minio_dir/credentials.env" \
    --arg ca "$HX_STATE/minio-tls/ca.crt" \
    --args '{endpoint:$endpoint, useTLS:true, caFile:$ca, credentialsFile:$creds, failover:$ARGS.positional}' \
    "${failover[@]}" >"$minio_dir/minio.json"
}

minio_cluster_ok() { minio_ok minio0 /minio/health/cluster; }

# --------------------------------------------------------------- services ---

# The daemons, built from this checkout into $HX_CACHE/bin (what make up
# builds too).
build_services() {
  log "building the services' daemons into $HX_CACHE/bin"
  (cd "$ha_here/.." && go build -o "$HX_CACHE/bin/" ./services/cmd/consentd ./services/cmd/recordsd \
    ./services/cmd/ingestd ./services/cmd/researchd) >>"$logs/build.log" 2>&1 ||
    fail "building the services failed" "$logs/build.log"
}

# start_service NODE (consent-a ...): the service's daemon on the node's host,
# configured by network.json like the default network's, and by flags for
# what is the instance's own: its addresses, its state folder (its journals,
# its view's snapshot), its name (in ingest anchor ids, on research jobs).
# What the instances must share is in MinIO (records, readings, datasets,
# the consent service's access requests and break-glass grants) or on the
# ledger; the vault's wrapped keys are in one folder (a KMS's stand-in,
# written with exclusive creates and file locks). The services check
# that they listen and dial on loopback only in the default network; here
# they run on hosts of their own (-loopback-only=false).
start_service() {
  local node="$1" svc="${1%-*}" ip args
  ip="$(ip_of "$node")"
  args=(-env "$HX_STATE/network.json" -grpc "$ip:$service_grpc_port" -http "$ip:$service_http_port"
    -state "$HX_STATE/services/$node" -loopback-only=false)
  case "$svc" in
  ingest | research) args+=(-instance "$node") ;;
  # The access requests and break-glass grants, which every instance must
  # see, in a bucket of the shared MinIO.
  consent) args+=(-shared-bucket consent-shared) ;;
  esac
  start "$node" $(on "$node") "$HX_CACHE/bin/${svc}d" "${args[@]}"
}

# A service instance listens once its HTTP gateway answers (the tests wait
# for its gRPC health check to say SERVING: the consent service says so only
# once its view follows the ledger).
service_ok() { # node
  curl -fsS -o /dev/null --max-time 2 --cacert "$HX_STATE/services-tls/ca.crt" \
    "https://$(ip_of "$1"):$service_http_port/openapi.json"
}

# ------------------------------------------------------------ the network ---

join_orderer() { # orderer
  local o="$1" admin="$orderer_dir/users/Admin@orderer.hx.local/tls"
  log "$o joins channel $channel"
  osnadmin channel join --channelID "$channel" --config-block "$HX_STATE/$channel.block" \
    -o "$(ip_of "$o"):$orderer_admin_port" --ca-file "$orderer_ca" \
    --client-cert "$admin/client.crt" --client-key "$admin/client.key" \
    >>"$logs/osnadmin.log" 2>&1 || fail "osnadmin channel join failed on $o" "$logs/osnadmin.log"
}

join_peer() { # org index
  log "$1-peer$2 joins channel $channel"
  (
    admin_env_ha "$1" "$2"
    wait_for "$1-peer$2 to join $channel" "$logs/$1-peer$2.log" \
      peer channel join -b "$HX_STATE/$channel.block"
  )
}

chaincode_answers_on() { # org index
  (admin_env_ha "$1" "$2" && peer chaincode query -C "$channel" -n "$chaincode" \
    -c '{"Args":["org.hyperledger.fabric:GetMetadata"]}') >/dev/null 2>&1
}

deploy_chaincode_ha() {
  package_chaincode
  local org i
  for org in "${peer_orgs[@]}"; do
    for i in 0 1; do
      log "installing chaincode $package_id on $org-peer$i"
      (admin_env_ha "$org" "$i" && peer lifecycle chaincode install "$HX_STATE/package/$chaincode.tar.gz") \
        >>"$logs/lifecycle.log" 2>&1 || fail "chaincode install failed on $org-peer$i" "$logs/lifecycle.log"
    done
    start_node "$org-chaincode"
  done
  local common=(-o "$(ip_of orderer0):$orderer_port" --tls --cafile "$orderer_ca"
    --channelID "$channel" --name "$chaincode" --version "$cc_version"
    --sequence "$cc_sequence" --signature-policy "$cc_policy")
  for org in "${peer_orgs[@]}"; do
    log "$org approves the chaincode definition"
    (admin_env_ha "$org" 0 && peer lifecycle chaincode approveformyorg "${common[@]}" \
      --package-id "$package_id" --waitForEvent) >>"$logs/lifecycle.log" 2>&1 ||
      fail "approveformyorg failed for $org" "$logs/lifecycle.log"
  done
  log "committing the chaincode definition"
  org_vars research
  local research_ca="$peer_ca"
  (admin_env_ha providers 0 && peer lifecycle chaincode commit "${common[@]}" \
    --peerAddresses "$CORE_PEER_ADDRESS" --tlsRootCertFiles "$CORE_PEER_TLS_ROOTCERT_FILE" \
    --peerAddresses "$(ip_of research-peer0):$peer_port_ha" --tlsRootCertFiles "$research_ca" --waitForEvent) \
    >>"$logs/lifecycle.log" 2>&1 || fail "chaincode commit failed" "$logs/lifecycle.log"
}

# Every peer has heard of the three others (gossip), so each gateway can
# collect both organisations' endorsements and pick either peer of each.
# (A gateway also needs the others' channel state, which follows within a
# gossip round; the fault tests wait for their first endorsement.)
peers_know_all() {
  local p q
  for p in providers-peer0 providers-peer1 research-peer0 research-peer1; do
    for q in providers-peer0 providers-peer1 research-peer0 research-peer1; do
      [ "$p" = "$q" ] && continue
      grep -q "peers went online:.*$(ip_of "$q"):$peer_port_ha" "$logs/$p.log" || return 1
    done
  done
}

write_client_config_ha() {
  local f="$HX_STATE/network.json" org entries=() gw_org endpoints
  for org in "${client_orgs[@]}"; do
    client_vars "$org"
    gw_org="$client_peer"
    org_vars "$gw_org"
    endpoints="$(jq -cn --args '$ARGS.positional' "$(ip_of "$gw_org-peer0"):$peer_port_ha" "$(ip_of "$gw_org-peer1"):$peer_port_ha")"
    entries+=("$(jq -n --arg name "$org" --arg msp "$client_msp" --arg peermsp "$msp" \
      --argjson endpoints "$endpoints" --arg host "gateway.$gw_org.hx.local" --arg tlsca "$peer_ca" \
      --arg cert "$client_dir/users/User1@$client_domain/msp/signcerts/User1@$client_domain-cert.pem" \
      --arg key "$client_dir/users/User1@$client_domain/msp/keystore/priv_sk" \
      '{name:$name, mspId:$msp, peerMspId:$peermsp, peerEndpoint:$endpoints[0], peerEndpoints:$endpoints,
        peerHostName:$host, tlsRootCert:$tlsca, userCert:$cert, userKey:$key}')")
  done
  local nodes svcs
  nodes="$(for n in "${all_nodes[@]}"; do printf '%s %s\n' "$n" "$(ip_of "$n")"; done |
    jq -Rn '[inputs | split(" ") | {(.[0]): .[1]}] | add')"
  # Each service: its instances, and what its clients are given (grpc: every
  # instance, separated by commas; http: every instance's gateway, the same).
  svcs="$(for n in "${service_nodes[@]}"; do printf '%s %s %s\n' "$n" "$(ip_of "$n"):$service_grpc_port" "$(ip_of "$n"):$service_http_port"; done |
    jq -Rn '[inputs | split(" ") | {service:(.[0] | sub("-[a-z]$"; "")), name:.[0], grpc:.[1], http:.[2]}]
      | group_by(.service) | map({(.[0].service): {grpc:(map(.grpc) | join(",")), http:(map(.http) | join(",")),
          instances:map({name, grpc, http})}}) | add
      | .consent.orgs = ["providers","stmarys","pharmacy","insurer","research"] | .records.orgs = ["providers","stmarys","pharmacy"]
      | .ingest.orgs = ["providers"] | .research.orgs = ["research"]')"
  printf '%s\n' "${entries[@]}" | jq -s --arg channel "$channel" --arg chaincode "$chaincode" \
    --argjson nodes "$nodes" --argjson ns "$namespaces" --argjson services "$svcs" \
    --arg tls "$HX_STATE/services-tls" --arg idp "$HX_STATE/idp" --arg vault "$HX_STATE/vault" \
    --argjson idps "$(idps_json)" \
    '{channel:$channel, chaincode:$chaincode, orgs:.,
      servicesTls:{dir:$tls, ca:($tls + "/ca.crt")}, idps:$idps,
      vault:{kek:($vault + "/kek"), keys:($vault + "/keys")},
      services:$services, ha:{nodes:$nodes, namespaces:($ns == 1)}}' >"$f"
  log "client configuration: $f"
}

all_alive() {
  local n
  for n in "${all_nodes[@]}"; do alive "$n" || return 1; done
}

up() {
  ensure_fabric
  if all_alive && chaincode_answers_on providers 0 && chaincode_answers_on research 1; then
    log "already up (state: $HX_STATE)"
    return 0
  fi
  if [ -d "$HX_STATE" ] || { [ $namespaces = 1 ] && ip link show "$bridge" >/dev/null 2>&1; }; then
    log "found a partial high-availability network; removing it first"
    down
  fi
  minio_bin="$("$ha_here/minio/minio.sh" bin | tail -n 1)"
  build_chaincode
  mkdir -p "$logs"
  hosts_up
  make_config
  local sans="" n
  for n in "${all_nodes[@]}"; do sans+=",IP:$(ip_of "$n")"; done
  HX_TLS_EXTRA_SANS="$sans" make_chaincode_tls
  HX_TLS_EXTRA_SANS="$sans" make_services_tls
  build_services
  make_dev_idp
  make_vault_kek
  make_minio_credentials
  make_minio_tls
  for n in "${minios[@]}"; do start_node "$n"; done
  for n in "${orderers[@]}"; do start_node "$n"; done
  for n in "${orderers[@]}"; do wait_node "$n" && join_orderer "$n"; done
  local org i
  for org in "${peer_orgs[@]}"; do for i in 0 1; do start_node "$org-peer$i"; done; done
  for org in "${peer_orgs[@]}"; do for i in 0 1; do wait_node "$org-peer$i" && join_peer "$org" "$i"; done; done
  deploy_chaincode_ha
  log "waiting for the chaincode to answer on all four peers"
  for org in "${peer_orgs[@]}"; do
    for i in 0 1; do
      wait_for "the chaincode on $org-peer$i" "$logs/$org-chaincode.log" chaincode_answers_on "$org" "$i"
    done
  done
  wait_for "gossip membership between the peers" "$logs/research-peer1.log" peers_know_all
  for n in "${minios[@]}"; do wait_node "$n"; done
  wait_for "MinIO's write quorum" "$logs/minio0.log" minio_cluster_ok
  write_minio_config
  write_client_config_ha
  for n in "${service_nodes[@]}"; do start_node "$n"; done
  for n in "${service_nodes[@]}"; do wait_node "$n"; done
  log "up: channel $channel on ${#orderers[@]} orderers and 4 peers, chaincode $chaincode ($package_id), MinIO on ${#minios[@]} nodes, 2 instances of each of ${services[*]}"
}

down() {
  local n
  for n in "${all_nodes[@]}"; do stop "$n"; done
  # A process whose pid file is gone (a half-finished up) still holds its
  # namespace: kill what runs in them before removing them.
  if [ $namespaces = 1 ]; then
    for n in "${all_nodes[@]}"; do
      ip netns pids "$(ns_of "$n")" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    done
  fi
  hosts_down
  rm -rf "$HX_STATE"
  log "down: no process left, namespaces, links and state removed"
}

status() {
  local n
  for n in "${all_nodes[@]}"; do
    if alive "$n"; then
      printf '%-22s %-14s running (pid %s)\n' "$n" "$(ip_of "$n")" "$(cat "$pids/$n.pid")"
    else
      printf '%-22s %-14s not running\n' "$n" "$(ip_of "$n")"
    fi
  done
}

# The Raft leader: the orderer whose metrics say it leads the channel.
leader() {
  local o
  for o in "${orderers[@]}"; do
    if curl -fsS --max-time 2 "http://$(ip_of "$o"):$orderer_ops_port/metrics" 2>/dev/null |
      grep -q "^consensus_etcdraft_is_leader{channel=\"$channel\"} 1"; then
      echo "$o"
      return 0
    fi
  done
  return 1
}

# height NODE: the channel's height on an orderer or a peer, read on the
# node's own host (so it answers while the node is cut off).
height() {
  local port=$orderer_ops_port
  case "$1" in *-peer*) port=$peer_ops_port ;; orderer*) ;; *) fail "height: $1 is neither an orderer nor a peer" ;; esac
  # shellcheck disable=SC2046 # on NODE prints words
  $(on "$1") curl -fsS --max-time 2 "http://$(ip_of "$1"):$port/metrics" |
    sed -n "s/^ledger_blockchain_height{channel=\"$channel\"} //p"
}

need_node() { [ -n "${1:-}" ] && [ -n "${node_host[$1]:-}" ] || fail "usage: ha.sh ${2} NODE (ha.sh nodes lists them)"; }

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
with)
  shift
  [ $# -gt 0 ] || fail "usage: ha.sh with COMMAND [ARGS...]"
  with "$@"
  ;;
stop) need_node "${2:-}" stop && stop_node "$2" ;;
start)
  need_node "${2:-}" start
  if alive "$2"; then log "$2 runs already (pid $(cat "$pids/$2.pid"))" && exit 0; fi
  ensure_fabric
  minio_bin="$("$ha_here/minio/minio.sh" bin | tail -n 1)"
  package_id="$(fabric_cfg && peer lifecycle chaincode calculatepackageid "$HX_STATE/package/$chaincode.tar.gz")"
  start_node "$2" && wait_node "$2"
  ;;
cut) need_node "${2:-}" cut && link "$2" down ;;
heal) need_node "${2:-}" heal && link "$2" up ;;
nodes) for n in "${all_nodes[@]}"; do printf '%s %s\n' "$n" "$(ip_of "$n")"; done ;;
leader) leader ;;
height) need_node "${2:-}" height && height "$2" ;;
*)
  echo "usage: $0 up|down|status|with COMMAND...|stop NODE|start NODE|cut NODE|heal NODE|nodes|leader|height NODE" >&2
  exit 2
  ;;
esac
