#!/usr/bin/env bash
# A Docker-free Hyperledger Fabric network on loopback for the health exchange:
# one Raft orderer (OrdererMSP), one peer for Providers, one for Research, the
# channel "health", and the chaincode "health" running as two chaincode servers
# (one per peer organisation) behind the project's own external builder.
#
# Every institution of the consortium is its own organisation on the channel:
# ProvidersMSP and ResearchMSP with a peer each, and StMarysMSP (a second
# hospital), PharmacyMSP and InsurerMSP without peers. The peerless ones are
# channel members whose clients submit and evaluate through the Providers
# peer's gateway; they neither endorse nor approve chaincode definitions, so
# writes still need AND(Providers, Research) (see README).
#
#   network.sh up        build what is missing, start everything, wait until
#                        the chaincode answers on both peers (idempotent)
#   network.sh down      stop every process this script started (by pid) and
#                        remove the network's state
#   network.sh status    say what runs
#   network.sh with CMD  run CMD with the network up; if this call started the
#                        network, take it down again afterwards
#
# Ports (ports.sh) and folders can be overridden by environment (see the HX_
# variables). Everything listens on 127.0.0.1 only.
set -euo pipefail
# Everything this script writes (state, keys, logs) is for its owner only.
umask 077

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

: "${HX_CACHE:=$root/.cache}"
: "${HX_STATE:=$HX_CACHE/network}"
: "${HX_UP_TIMEOUT:=120}"
: "${HX_CHAINCODE_SRC:=$root/chaincode}"

channel=health
chaincode=health
cc_version=1.0
cc_sequence=1
# Every write needs an endorsement from a peer of each organisation, see README.
cc_policy="AND('ProvidersMSP.peer','ResearchMSP.peer')"

crypto="$HX_STATE/crypto"
logs="$HX_STATE/logs"
pids="$HX_STATE/pids"
orderer_dir="$crypto/ordererOrganizations/orderer.hx.local"
orderer_tls="$orderer_dir/orderers/orderer0.orderer.hx.local/tls"
orderer_ca="$orderer_dir/tlsca/tlsca.orderer.hx.local-cert.pem"
orderer_admin="$orderer_dir/users/Admin@orderer.hx.local/tls"

hx_name=network
# shellcheck source=lib.sh
. "$here/lib.sh"

# ---------------------------------------------------------------- binaries ---

# The Fabric binaries are built from the pinned module in tools/ into a folder
# named by the hash of that pin, so a changed pin rebuilds and nothing else does.
fabric_bin() {
  printf '%s/fabric-%s/bin' "$HX_CACHE" "$(pin_hash "$here/tools")"
}

ensure_fabric() {
  bin="$(fabric_bin)"
  local tool missing=()
  for tool in peer orderer configtxgen cryptogen osnadmin; do
    [ -x "$bin/$tool" ] || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "building Fabric binaries (${missing[*]}) into $bin (first time: several minutes)"
    mkdir -p "$bin"
    (cd "$here/tools" && go build -o "$bin/" \
      github.com/hyperledger/fabric/cmd/peer \
      github.com/hyperledger/fabric/cmd/orderer \
      github.com/hyperledger/fabric/cmd/configtxgen \
      github.com/hyperledger/fabric/cmd/cryptogen \
      github.com/hyperledger/fabric/cmd/osnadmin) || fail "building the Fabric binaries failed"
  fi
  export PATH="$bin:$PATH"
  # The sample configuration of the same pinned module is the base that the
  # environment variables below override.
  fabric_src="$(cd "$here/tools" && go list -m -f '{{.Dir}}' github.com/hyperledger/fabric)"
}

build_chaincode() {
  log "building the chaincode server"
  mkdir -p "$HX_STATE/bin"
  (cd "$HX_CHAINCODE_SRC" && go build -o "$HX_STATE/bin/health-chaincode" .) ||
    fail "building the chaincode failed"
}

# --------------------------------------------------------------- processes ---

alive() { # name
  local f="$pids/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

start() { # name, then the command; the environment is the caller's
  local name="$1"
  shift
  mkdir -p "$logs" "$pids"
  log "starting $name (log: $logs/$name.log)"
  setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
  echo $! >"$pids/$name.pid"
}

wait_for() { # description, log file, command...
  local what="$1" logfile="$2"
  shift 2
  # The process that writes the log file, if this script started it: when it
  # dies, stop waiting and show why.
  local name pid=""
  name="$(basename "$logfile" .log)"
  [ -f "$pids/$name.pid" ] && pid="$(cat "$pids/$name.pid")"
  local deadline=$((SECONDS + HX_UP_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      fail "$name exited while waiting for $what" "$logfile"
    fi
    [ $SECONDS -lt $deadline ] || fail "timed out waiting for $what" "$logfile"
    sleep 0.5
  done
}

check_ports() {
  local v
  for v in HX_ORDERER_PORT HX_ORDERER_ADMIN_PORT HX_ORDERER_OPS_PORT \
    HX_PROVIDERS_PEER_PORT HX_PROVIDERS_CHAINCODE_PORT HX_PROVIDERS_OPS_PORT HX_PROVIDERS_CCAAS_PORT \
    HX_RESEARCH_PEER_PORT HX_RESEARCH_CHAINCODE_PORT HX_RESEARCH_OPS_PORT HX_RESEARCH_CCAAS_PORT; do
    if listening "${!v}"; then
      fail "port ${!v} on 127.0.0.1 is in use by another program; choose another with $v=..."
    fi
  done
}

http_ok() { curl -fsS -o /dev/null "$1"; }

# ------------------------------------------------------------ environments ---

fabric_cfg() {
  export FABRIC_CFG_PATH="$HX_STATE/config"
  # Log files, not terminals: the same fields as Fabric's default, no colour codes.
  export FABRIC_LOGGING_FORMAT='%{time:2006-01-02 15:04:05.000 MST} %{level:.4s} [%{module}] %{shortfunc} -> %{message}'
}

orderer_env() {
  fabric_cfg
  export ORDERER_GENERAL_LISTENADDRESS=127.0.0.1
  export ORDERER_GENERAL_LISTENPORT="$HX_ORDERER_PORT"
  export ORDERER_GENERAL_LOCALMSPID=OrdererMSP
  export ORDERER_GENERAL_LOCALMSPDIR="$orderer_dir/orderers/orderer0.orderer.hx.local/msp"
  export ORDERER_GENERAL_TLS_ENABLED=true
  export ORDERER_GENERAL_TLS_PRIVATEKEY="$orderer_tls/server.key"
  export ORDERER_GENERAL_TLS_CERTIFICATE="$orderer_tls/server.crt"
  export ORDERER_GENERAL_TLS_ROOTCAS="[$orderer_tls/ca.crt]"
  export ORDERER_GENERAL_BOOTSTRAPMETHOD=none
  export ORDERER_CHANNELPARTICIPATION_ENABLED=true
  export ORDERER_ADMIN_LISTENADDRESS="127.0.0.1:$HX_ORDERER_ADMIN_PORT"
  export ORDERER_ADMIN_TLS_ENABLED=true
  export ORDERER_ADMIN_TLS_PRIVATEKEY="$orderer_tls/server.key"
  export ORDERER_ADMIN_TLS_CERTIFICATE="$orderer_tls/server.crt"
  export ORDERER_ADMIN_TLS_ROOTCAS="[$orderer_tls/ca.crt]"
  export ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true
  export ORDERER_ADMIN_TLS_CLIENTROOTCAS="[$orderer_tls/ca.crt]"
  export ORDERER_FILELEDGER_LOCATION="$HX_STATE/orderer/ledger"
  export ORDERER_CONSENSUS_WALDIR="$HX_STATE/orderer/wal"
  export ORDERER_CONSENSUS_SNAPDIR="$HX_STATE/orderer/snapshot"
  export ORDERER_OPERATIONS_LISTENADDRESS="127.0.0.1:$HX_ORDERER_OPS_PORT"
  export ORDERER_METRICS_PROVIDER=disabled
}

# The organisations whose clients network.json describes: the two with a peer
# and the three without (their clients use the Providers peer).
client_orgs=(providers research stmarys pharmacy insurer)

# org_vars ORG: the variables that differ between the two peer organisations.
org_vars() {
  case "$1" in
  providers)
    org_domain=providers.hx.local msp=ProvidersMSP
    peer_port=$HX_PROVIDERS_PEER_PORT cc_port=$HX_PROVIDERS_CHAINCODE_PORT
    ops_port=$HX_PROVIDERS_OPS_PORT ccaas_port=$HX_PROVIDERS_CCAAS_PORT
    ;;
  research)
    org_domain=research.hx.local msp=ResearchMSP
    peer_port=$HX_RESEARCH_PEER_PORT cc_port=$HX_RESEARCH_CHAINCODE_PORT
    ops_port=$HX_RESEARCH_OPS_PORT ccaas_port=$HX_RESEARCH_CCAAS_PORT
    ;;
  *) fail "unknown organisation $1" ;;
  esac
  org_dir="$crypto/peerOrganizations/$org_domain"
  peer_tls="$org_dir/peers/peer0.$org_domain/tls"
  peer_ca="$org_dir/tlsca/tlsca.$org_domain-cert.pem"
}

# client_vars ORG: an organisation as its clients see it: its domain, MSP id
# and crypto folder, and the peer organisation whose peer they talk to (their
# own, or Providers' for the organisations without a peer).
client_vars() {
  case "$1" in
  providers | research)
    org_vars "$1"
    client_domain=$org_domain client_msp=$msp client_peer=$1
    ;;
  stmarys) client_domain=stmarys.hx.local client_msp=StMarysMSP client_peer=providers ;;
  pharmacy) client_domain=pharmacy.hx.local client_msp=PharmacyMSP client_peer=providers ;;
  insurer) client_domain=insurer.hx.local client_msp=InsurerMSP client_peer=providers ;;
  *) fail "unknown organisation $1" ;;
  esac
  client_dir="$crypto/peerOrganizations/$client_domain"
}

peer_env() { # org: environment of the peer node itself
  org_vars "$1"
  fabric_cfg
  export CORE_PEER_ID="peer0.$org_domain"
  export CORE_PEER_ADDRESS="127.0.0.1:$peer_port"
  export CORE_PEER_LISTENADDRESS="127.0.0.1:$peer_port"
  export CORE_PEER_CHAINCODEADDRESS="127.0.0.1:$cc_port"
  export CORE_PEER_CHAINCODELISTENADDRESS="127.0.0.1:$cc_port"
  export CORE_PEER_GOSSIP_BOOTSTRAP="127.0.0.1:$peer_port"
  export CORE_PEER_GOSSIP_EXTERNALENDPOINT="127.0.0.1:$peer_port"
  export CORE_PEER_LOCALMSPID="$msp"
  export CORE_PEER_MSPCONFIGPATH="$org_dir/peers/peer0.$org_domain/msp"
  export CORE_PEER_TLS_ENABLED=true
  export CORE_PEER_TLS_CERT_FILE="$peer_tls/server.crt"
  export CORE_PEER_TLS_KEY_FILE="$peer_tls/server.key"
  export CORE_PEER_TLS_ROOTCERT_FILE="$peer_tls/ca.crt"
  export CORE_PEER_FILESYSTEMPATH="$HX_STATE/$1-peer"
  # The services ping their peer every 10 s to notice a dead connection;
  # allow it (the sample configuration refuses pings under a minute).
  export CORE_PEER_KEEPALIVE_MININTERVAL=5s
  export CORE_LEDGER_SNAPSHOTS_ROOTDIR="$HX_STATE/$1-peer/snapshots"
  export CORE_LEDGER_STATE_STATEDATABASE=goleveldb
  export CORE_OPERATIONS_LISTENADDRESS="127.0.0.1:$ops_port"
  export CORE_METRICS_PROVIDER=disabled
  export CORE_CHAINCODE_EXTERNALBUILDERS="[{name: hx-ccaas, path: $here/builders/ccaas, propagateEnvironment: [HX_CCAAS_ADDRESS, HX_CCAAS_ROOT_CERT]}]"
  export HX_CCAAS_ADDRESS="127.0.0.1:$ccaas_port"
  export HX_CCAAS_ROOT_CERT="$HX_STATE/chaincode-tls/ca.crt"
}

admin_env() { # org: environment of the peer CLI acting as the org's admin
  org_vars "$1"
  fabric_cfg
  export CORE_PEER_LOCALMSPID="$msp"
  export CORE_PEER_MSPCONFIGPATH="$org_dir/users/Admin@$org_domain/msp"
  export CORE_PEER_ADDRESS="127.0.0.1:$peer_port"
  export CORE_PEER_TLS_ENABLED=true
  export CORE_PEER_TLS_ROOTCERT_FILE="$peer_ca"
}

# --------------------------------------------------------------------- up ---

# render TEMPLATE OUTPUT TOKEN=VALUE...: the template with each @TOKEN@
# replaced by its value (one line; the YAML templates take flow lists).
render() {
  local in="$1" out="$2" kv args=()
  shift 2
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$in" >"$out"
}

# The default network's nodes, as the templates take them: every node on
# 127.0.0.1, each certificate naming localhost and 127.0.0.1.
config_tokens() {
  local local_sans="SANS: [localhost, 127.0.0.1]"
  tokens=(
    "STATE=$HX_STATE"
    "ORDERER_SPECS=[{Hostname: orderer0, $local_sans}]"
    "PROVIDERS_PEERS=[{Hostname: peer0, $local_sans}]"
    "RESEARCH_PEERS=[{Hostname: peer0, $local_sans}]"
    "ORDERER_ENDPOINTS=[127.0.0.1:$HX_ORDERER_PORT]"
    "PROVIDERS_ANCHORS=[{Host: 127.0.0.1, Port: $HX_PROVIDERS_PEER_PORT}]"
    "RESEARCH_ANCHORS=[{Host: 127.0.0.1, Port: $HX_RESEARCH_PEER_PORT}]"
    "CONSENTERS=[{Host: 127.0.0.1, Port: $HX_ORDERER_PORT, ClientTLSCert: $orderer_tls/server.crt, ServerTLSCert: $orderer_tls/server.crt}]"
  )
}

make_config() {
  log "generating crypto material and the channel's genesis block"
  mkdir -p "$HX_STATE/config"
  local tokens
  config_tokens
  render "$here/config/crypto-config.yaml" "$HX_STATE/config/crypto-config.yaml" "${tokens[@]}"
  cryptogen generate --config="$HX_STATE/config/crypto-config.yaml" --output="$crypto" >/dev/null
  render "$here/config/configtx.yaml" "$HX_STATE/config/configtx.yaml" "${tokens[@]}"
  cp "$fabric_src/sampleconfig/orderer.yaml" "$HX_STATE/config/orderer.yaml"
  # No Docker here: with no VM endpoint the peer can only use external builders.
  sed -e 's|^\(    endpoint:\) unix:///var/run/docker.sock|\1 ""|' \
    "$fabric_src/sampleconfig/core.yaml" >"$HX_STATE/config/core.yaml"
  chmod -R u+w "$HX_STATE/config"
  (fabric_cfg && configtxgen -profile HealthChannel -channelID "$channel" \
    -outputBlock "$HX_STATE/$channel.block") >"$logs/configtxgen.log" 2>&1 ||
    fail "configtxgen failed" "$logs/configtxgen.log"
}

# make_tls DIR CA_NAME NAME:KIND:USAGE...: a CA made for this network only, in
# DIR, and for each NAME a P-256 key and a certificate for 127.0.0.1 with the
# given extended key usage and, when KIND is not "-", the identity
# spiffe://health-exchange/KIND/NAME as a URI SAN (the servers read who calls
# from it). Keys are 0600. HX_TLS_EXTRA_SANS (",IP:a.b.c.d,...") adds names
# to every certificate: the high-availability profile's node addresses.
make_tls() {
  local d="$1" ca="$2" entry name kind usage uri
  shift 2
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=$ca" -keyout ca.key -out ca.crt
    for entry in "$@"; do
      IFS=: read -r name kind usage <<<"$entry"
      uri=""
      [ "$kind" = "-" ] || uri=",URI:spiffe://health-exchange/$kind/${name#"$kind"-}"
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost%s%s\nextendedKeyUsage=%s\n' "${HX_TLS_EXTRA_SANS:-}" "$uri" "$usage" >"$name.ext"
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=$name" -keyout "$name.key" -out "$name.csr"
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 3650 -extfile "$name.ext" -out "$name.crt"
    done
    chmod 600 ./*.key
  ) >"$logs/$(basename "$d").log" 2>&1 || fail "making TLS material in $d failed" "$logs/$(basename "$d").log"
}

# Each chaincode server proves itself to its peer with a certificate of its
# own CA ("server").
make_chaincode_tls() { make_tls "$HX_STATE/chaincode-tls" hx-chaincode-ca server:-:serverAuth; }

# The services' own TLS: a CA made for this network, and a certificate for
# each service (server and client: services call each other with mutual
# TLS), each class of app that calls the services' gRPC APIs directly
# (client only), and the wearables (client only: a device certificate opens
# the ingest upload and nothing else). Each names its holder in a URI SAN,
# spiffe://health-exchange/{service,app,device}/NAME; the servers check it.
service_names=(consent records ingest research)
app_names=(app-patient app-clinician app-researcher app-operator)

make_services_tls() {
  local entries=() n
  for n in "${service_names[@]}"; do entries+=("$n:service:serverAuth,clientAuth"); done
  for n in "${app_names[@]}"; do entries+=("$n:app:clientAuth"); done
  entries+=("device-wearable:device:clientAuth")
  make_tls "$HX_STATE/services-tls" hx-services-ca "${entries[@]}"
}

# The development identity providers: one per organisation, which may sign
# tokens for that organisation's people only, and one for the patients
# (tokens without an organisation). Each is an Ed25519 key (hxtoken issues
# the tokens); the services trust each for its organisation and roles only.
# The last, signin, is the key of the patient web app's sign-in: the consent
# service's instances sign the sessions they give with it, and the services
# the app reaches trust it for patients only.
idp_names=(patients providers stmarys pharmacy insurer research signin)

make_dev_idp() {
  local d="$HX_STATE/idp" name
  mkdir -p "$d"
  for name in "${idp_names[@]}"; do
    (
      openssl genpkey -algorithm ed25519 -out "$d/$name.key" &&
        openssl pkey -in "$d/$name.key" -pubout -out "$d/$name.pub" && chmod 600 "$d/$name.key"
    ) >>"$logs/idp.log" 2>&1 || fail "making the development identity provider $name's key failed" "$logs/idp.log"
  done
}

# The development key-encryption key of the vault (32 random bytes, mode
# 0600) that wraps patients' data keys, and the folder of those wrapped keys.
# A production deployment puts a KMS behind the vault's KEK interface.
make_vault_kek() {
  local d="$HX_STATE/vault"
  mkdir -p "$d/keys"
  chmod 700 "$d" "$d/keys"
  (umask 077 && head -c 32 /dev/urandom >"$d/kek") || fail "making the vault's key-encryption key failed"
}

start_orderer() {
  (orderer_env && start orderer orderer)
  wait_for "the orderer's operations endpoint" "$logs/orderer.log" \
    http_ok "http://127.0.0.1:$HX_ORDERER_OPS_PORT/healthz"
  log "orderer joins channel $channel"
  osnadmin channel join --channelID "$channel" --config-block "$HX_STATE/$channel.block" \
    -o "127.0.0.1:$HX_ORDERER_ADMIN_PORT" --ca-file "$orderer_ca" \
    --client-cert "$orderer_admin/client.crt" --client-key "$orderer_admin/client.key" \
    >"$logs/osnadmin.log" 2>&1 || fail "osnadmin channel join failed" "$logs/osnadmin.log"
}

start_peer() { # org
  (peer_env "$1" && start "$1-peer" peer node start)
  org_vars "$1"
  wait_for "the $1 peer" "$logs/$1-peer.log" http_ok "http://127.0.0.1:$ops_port/healthz"
}

join_channel() { # org
  log "$1 peer joins channel $channel"
  (
    admin_env "$1"
    wait_for "the $1 peer to join $channel" "$logs/$1-peer.log" \
      peer channel join -b "$HX_STATE/$channel.block"
  )
}

package_chaincode() {
  local d="$HX_STATE/package"
  mkdir -p "$d/src"
  printf '{"dial_timeout":"10s"}\n' >"$d/src/connection.json"
  printf '{"type":"ccaas","label":"%s_%s"}\n' "$chaincode" "$cc_version" >"$d/src/metadata.json"
  tar -C "$d/src" -czf "$d/src/code.tar.gz" connection.json
  tar -C "$d/src" -czf "$d/$chaincode.tar.gz" metadata.json code.tar.gz
  package_id="$(fabric_cfg && peer lifecycle chaincode calculatepackageid "$d/$chaincode.tar.gz")"
}

deploy_chaincode() {
  package_chaincode
  local org
  for org in providers research; do
    log "installing chaincode $package_id on the $org peer"
    (admin_env "$org" && peer lifecycle chaincode install "$HX_STATE/package/$chaincode.tar.gz") \
      >>"$logs/lifecycle.log" 2>&1 || fail "chaincode install failed" "$logs/lifecycle.log"
  done
  for org in providers research; do
    org_vars "$org"
    (
      export CHAINCODE_ID="$package_id"
      export CHAINCODE_SERVER_ADDRESS="127.0.0.1:$ccaas_port"
      export CHAINCODE_TLS_KEY_FILE="$HX_STATE/chaincode-tls/server.key"
      export CHAINCODE_TLS_CERT_FILE="$HX_STATE/chaincode-tls/server.crt"
      start "$org-chaincode" "$HX_STATE/bin/health-chaincode"
    )
  done
  local common=(-o "127.0.0.1:$HX_ORDERER_PORT" --tls --cafile "$orderer_ca"
    --channelID "$channel" --name "$chaincode" --version "$cc_version"
    --sequence "$cc_sequence" --signature-policy "$cc_policy")
  for org in providers research; do
    log "$org approves the chaincode definition"
    (admin_env "$org" && peer lifecycle chaincode approveformyorg "${common[@]}" \
      --package-id "$package_id" --waitForEvent) >>"$logs/lifecycle.log" 2>&1 ||
      fail "approveformyorg failed for $org" "$logs/lifecycle.log"
  done
  log "committing the chaincode definition"
  org_vars research
  local research_addr="127.0.0.1:$peer_port" research_ca="$peer_ca"
  (admin_env providers && peer lifecycle chaincode commit "${common[@]}" \
    --peerAddresses "$CORE_PEER_ADDRESS" --tlsRootCertFiles "$CORE_PEER_TLS_ROOTCERT_FILE" \
    --peerAddresses "$research_addr" --tlsRootCertFiles "$research_ca" --waitForEvent) \
    >>"$logs/lifecycle.log" 2>&1 || fail "chaincode commit failed" "$logs/lifecycle.log"
}

chaincode_answers() { # org
  (admin_env "$1" && peer chaincode query -C "$channel" -n "$chaincode" \
    -c '{"Args":["org.hyperledger.fabric:GetMetadata"]}') >/dev/null 2>&1
}

# A peer learns of the other organisation's peer through gossip; until it has,
# the gateway cannot collect both endorsements. Wait for the membership.
peers_know_each_other() {
  grep -q "Membership view has changed. peers went online:" "$logs/providers-peer.log" &&
    grep -q "Membership view has changed. peers went online:" "$logs/research-peer.log"
}

# The development identity providers as network.json lists them: who each
# is, the organisation it speaks for, the roles it may assert, its key files.
idps_json() {
  jq -n --arg idp "$HX_STATE/idp" '[["patients","",["patient"]], ["providers","ProvidersMSP",["clinician"]], ["stmarys","StMarysMSP",["clinician"]],
      ["pharmacy","PharmacyMSP",["pharmacist"]], ["insurer","InsurerMSP",["insurer"]], ["research","ResearchMSP",["researcher"]],
      ["signin","",["patient"],"urn:healthexchange:consent:sign-in"]]
    | map({name:.[0], issuer:(.[3] // ("https://idp." + .[0] + ".hx.local")), org:.[1], roles:.[2],
           key:($idp + "/" + .[0] + ".key"), publicKey:($idp + "/" + .[0] + ".pub")})'
}

write_client_config() {
  local f="$HX_STATE/network.json" org entries=()
  # One entry per organisation: its own client identity (User1), and the peer
  # it talks to (peerMspId says whose: the organisations without a peer go
  # through the Providers peer's gateway).
  for org in "${client_orgs[@]}"; do
    client_vars "$org"
    org_vars "$client_peer"
    entries+=("$(jq -n --arg name "$org" --arg msp "$client_msp" --arg peermsp "$msp" \
      --arg endpoint "127.0.0.1:$peer_port" --arg host "peer0.$org_domain" \
      --arg tlsca "$peer_ca" \
      --arg cert "$client_dir/users/User1@$client_domain/msp/signcerts/User1@$client_domain-cert.pem" \
      --arg key "$client_dir/users/User1@$client_domain/msp/keystore/priv_sk" \
      '{name:$name, mspId:$msp, peerMspId:$peermsp, peerEndpoint:$endpoint, peerHostName:$host,
        tlsRootCert:$tlsca, userCert:$cert, userKey:$key}')")
  done
  printf '%s\n' "${entries[@]}" | jq -s --arg channel "$channel" --arg chaincode "$chaincode" \
    --arg tls "$HX_STATE/services-tls" --argjson idps "$(idps_json)" --arg vault "$HX_STATE/vault" \
    --arg consent_grpc "127.0.0.1:$HX_CONSENT_GRPC_PORT" --arg consent_http "127.0.0.1:$HX_CONSENT_HTTP_PORT" \
    --arg records_grpc "127.0.0.1:$HX_RECORDS_GRPC_PORT" --arg records_http "127.0.0.1:$HX_RECORDS_HTTP_PORT" \
    --arg ingest_grpc "127.0.0.1:$HX_INGEST_GRPC_PORT" --arg ingest_http "127.0.0.1:$HX_INGEST_HTTP_PORT" \
    --arg research_grpc "127.0.0.1:$HX_RESEARCH_GRPC_PORT" --arg research_http "127.0.0.1:$HX_RESEARCH_HTTP_PORT" \
    '{channel:$channel, chaincode:$chaincode, orgs:.,
      servicesTls:{dir:$tls, ca:($tls + "/ca.crt")},
      idps:$idps,
      vault:{kek:($vault + "/kek"), keys:($vault + "/keys")},
      services:{
        consent:{grpc:$consent_grpc, http:$consent_http, orgs:["providers","stmarys","pharmacy","insurer","research"]},
        records:{grpc:$records_grpc, http:$records_http, orgs:["providers","stmarys","pharmacy"]},
        ingest:{grpc:$ingest_grpc, http:$ingest_http, orgs:["providers"]},
        research:{grpc:$research_grpc, http:$research_http, orgs:["research"]}}}' >"$f"
  log "client configuration: $f"
}

all_alive() {
  local p
  for p in orderer providers-peer research-peer providers-chaincode research-chaincode; do
    alive "$p" || return 1
  done
}

up() {
  ensure_fabric
  if all_alive && chaincode_answers providers && chaincode_answers research; then
    log "already up (state: $HX_STATE)"
    return 0
  fi
  if [ -d "$HX_STATE/pids" ] || [ -d "$crypto" ]; then
    log "found a partial network; removing it first"
    down
  fi
  check_ports
  build_chaincode
  mkdir -p "$logs"
  make_config
  make_chaincode_tls
  make_services_tls
  make_dev_idp
  make_vault_kek
  start_orderer
  start_peer providers
  start_peer research
  join_channel providers
  join_channel research
  deploy_chaincode
  log "waiting for the chaincode to answer on both peers"
  wait_for "the chaincode on the providers peer" "$logs/providers-chaincode.log" chaincode_answers providers
  wait_for "the chaincode on the research peer" "$logs/research-chaincode.log" chaincode_answers research
  wait_for "gossip membership between the peers" "$logs/research-peer.log" peers_know_each_other
  write_client_config
  log "up: channel $channel, chaincode $chaincode ($package_id)"
}

# ------------------------------------------------------------ down, status ---

stop() { stop_pid "$1" "$pids/$1.pid"; }

down() {
  local p
  for p in providers-chaincode research-chaincode providers-peer research-peer orderer; do
    stop "$p"
  done
  if [ -x "$here/minio/minio.sh" ]; then HX_CACHE="$HX_CACHE" HX_STATE="$HX_STATE" "$here/minio/minio.sh" down; fi
  rm -rf "$HX_STATE"
  log "down: no process left, state removed"
}

status() {
  local p any=0 pid
  for p in orderer providers-peer research-peer providers-chaincode research-chaincode; do
    if alive "$p"; then
      pid="$(cat "$pids/$p.pid")"
      printf '%-22s running (pid %s)\n' "$p" "$pid"
      any=1
    else
      printf '%-22s not running\n' "$p"
    fi
  done
  [ $any = 1 ] || return 0
  ensure_fabric
  local org
  for org in providers research; do
    if chaincode_answers "$org"; then
      printf '%-22s answers on the %s peer\n' "chaincode $chaincode" "$org"
    else
      printf '%-22s does not answer on the %s peer\n' "chaincode $chaincode" "$org"
    fi
  done
}

with() {
  local started=0 rc=0
  if ! all_alive; then
    started=1
    # What this call starts it stops, also when the start fails half way
    # (fail exits) or the command is interrupted: nothing is left behind.
    trap 'rc=$?; trap - EXIT INT TERM; log "stopping what this call started (exit $rc)"; down; exit $rc' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
  fi
  # A start this call made that fails (its error and the log's last lines
  # are printed) is cleaned up and tried once more: a test run is not lost
  # to one slow start, and a second failure fails the run. A network that
  # was running already is not this call's to remove.
  # (errexit holds in the subshell only outside a condition: hence set +e.)
  local up_rc
  set +e
  (
    set -e
    up
  )
  up_rc=$?
  set -e
  if [ $up_rc -ne 0 ] && [ $started = 0 ]; then
    fail "the network that was running does not answer; 'make down' and try again"
  fi
  if [ $up_rc -ne 0 ]; then
    log "the start failed (above); removing what it left and starting once more"
    down
    up
  fi
  "$@" || rc=$?
  if [ $started = 1 ]; then
    trap - EXIT INT TERM
    down
  fi
  return $rc
}

# ha.sh takes the functions above and replaces the ones that differ.
if [ "${HX_NETWORK_LIB:-}" = 1 ]; then return 0; fi

# The high-availability profile is its own script (ha.sh) with its own
# state: network.sh up --ha, down --ha, status --ha.
if [ "${2:-}" = --ha ]; then exec "$here/ha.sh" "$1" "${@:3}"; fi

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
with)
  shift
  [ $# -gt 0 ] || fail "usage: network.sh with COMMAND [ARGS...]"
  with "$@"
  ;;
*)
  echo "usage: $0 up|down|status|with COMMAND..." >&2
  exit 2
  ;;
esac
