# Every port of the development network, in one place: the Fabric network
# (network.sh), MinIO (minio/minio.sh) and the services (network.sh writes
# their addresses into network.json, where the daemons, the CLIs, make up
# and the tests read them). Each can be overridden by its environment
# variable. Everything listens on 127.0.0.1 only. The 27xxx range stays
# clear of common services, Fabric's own 7050/7051 defaults included.

: "${HX_ORDERER_PORT:=27050}"
: "${HX_ORDERER_ADMIN_PORT:=27053}"
: "${HX_ORDERER_OPS_PORT:=27443}"
: "${HX_PROVIDERS_PEER_PORT:=27051}"
: "${HX_PROVIDERS_CHAINCODE_PORT:=27052}"
: "${HX_PROVIDERS_OPS_PORT:=27444}"
: "${HX_PROVIDERS_CCAAS_PORT:=27071}"
: "${HX_RESEARCH_PEER_PORT:=27061}"
: "${HX_RESEARCH_CHAINCODE_PORT:=27062}"
: "${HX_RESEARCH_OPS_PORT:=27445}"
: "${HX_RESEARCH_CCAAS_PORT:=27072}"

: "${HX_MINIO_PORT:=27090}"
: "${HX_MINIO_CONSOLE_PORT:=27091}"

: "${HX_CONSENT_GRPC_PORT:=27101}"
: "${HX_CONSENT_HTTP_PORT:=27102}"
: "${HX_RECORDS_GRPC_PORT:=27111}"
: "${HX_RECORDS_HTTP_PORT:=27112}"
: "${HX_INGEST_GRPC_PORT:=27121}"
: "${HX_INGEST_HTTP_PORT:=27122}"
: "${HX_RESEARCH_GRPC_PORT:=27131}"
: "${HX_RESEARCH_HTTP_PORT:=27132}"
