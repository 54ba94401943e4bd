/* Compiled only by layout.root.test.ts (never loaded): anchors every shared struct and #define in BTF so
 * the test can compare them with agent/datapath/constants.ts. */
#include "../lib/common.h"
#include "../lib/maps.h"
#include "../lib/ipv4.h"
#include "../lib/events.h"
#include "../lib/conntrack.h"
#include "../lib/fib.h"

enum cnilab_probe_consts {
	P_DROP_POLICY_DENIED = DROP_POLICY_DENIED,
	P_DROP_INVALID_PACKET = DROP_INVALID_PACKET,
	P_DROP_UNSUPPORTED_L3 = DROP_UNSUPPORTED_L3,
	P_DROP_STALE_OR_UNROUTABLE_IP = DROP_STALE_OR_UNROUTABLE_IP,
	P_DROP_NO_TUNNEL_ENDPOINT = DROP_NO_TUNNEL_ENDPOINT,
	P_DROP_FIB_LOOKUP_FAILED = DROP_FIB_LOOKUP_FAILED,
	P_DROP_TTL_EXCEEDED = DROP_TTL_EXCEEDED,
	P_OBS_TO_STACK = OBS_TO_STACK,
	P_OBS_TO_OVERLAY = OBS_TO_OVERLAY,
	P_OBS_FROM_ENDPOINT = OBS_FROM_ENDPOINT,
	P_OBS_FROM_HOST = OBS_FROM_HOST,
	P_OBS_FROM_OVERLAY = OBS_FROM_OVERLAY,
	P_OBS_FROM_NETWORK = OBS_FROM_NETWORK,
	P_OBS_TO_NETWORK = OBS_TO_NETWORK,
	P_OBS_TO_ENDPOINT = OBS_TO_ENDPOINT,
	P_EVENT_DROP = EVENT_DROP,
	P_EVENT_TRACE = EVENT_TRACE,
	P_EVENT_POLICY_VERDICT = EVENT_POLICY_VERDICT,
	P_CFG_TUNNEL_IFINDEX = CFG_TUNNEL_IFINDEX,
	P_CFG_NODE_IP = CFG_NODE_IP,
	P_CFG_ROUTER_IP = CFG_ROUTER_IP,
	P_CFG_POD_CIDR_NET = CFG_POD_CIDR_NET,
	P_CFG_POD_CIDR_MASK = CFG_POD_CIDR_MASK,
	P_CFG_HOST_IFINDEX = CFG_HOST_IFINDEX,
	P_CFG_ROUTING_MODE = CFG_ROUTING_MODE,
	P_CFG_NETDEV_IFINDEX = CFG_NETDEV_IFINDEX,
	P_ROUTING_TUNNEL = ROUTING_TUNNEL,
	P_ROUTING_NATIVE = ROUTING_NATIVE,
	P_CFG_MAX = CFG_MAX,
	P_DIR_INGRESS = DIR_INGRESS,
	P_DIR_EGRESS = DIR_EGRESS,
	P_IDENTITY_HOST = IDENTITY_HOST,
	P_IDENTITY_WORLD = IDENTITY_WORLD,
};

struct cnilab_layout_probe {
	struct cnilab_endpoint ep;
	struct cnilab_ipcache_key ick;
	struct cnilab_ipcache_val icv;
	struct cnilab_ct_key ctk;
	struct cnilab_ct_val ctv;
	struct cnilab_event ev;
	struct cnilab_drop_key dk;
	struct cnilab_drop_val dv;
	enum cnilab_probe_consts c;
} cnilab_layout_probe SEC(".probe");
