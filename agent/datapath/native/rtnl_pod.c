// A pod's network set-up over rtnetlink, inside the agent's process: the veth pair with its peer born
// in the pod, the host side's /32 route, and the pod side's address, links and routes. The agent loads
// this through koffi and calls it on one of koffi's worker threads (never on the event loop).
//
// Why not `ip`: an ADD used to fork two `ip -batch` processes, the second through nsenter. Each fork of
// a ~150 MiB Node process costs ~15 ms of wall time and ~6 ms of the agent's CPU
// (bench/spawn-cost-bench.ts), and under a busy node's CPU contention those two processes were most of
// a pod's network set-up time. The kernel configuration's plugins (ptp, bridge) do this in-process too.
//
// setns(CLONE_NEWNET) moves only the calling thread, so the pod side runs on a short-lived thread of its
// own that enters the pod's netns and exits: no thread of the agent is ever left in another namespace.
//
// Messages are built with libmnl (a maintained, minimal netlink library); each request asks for an ACK
// and an error is reported with the kernel's extended-ACK message when it gives one.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

// Requests and answers here are small; 8 KiB is libmnl's own buffer size.
#define NL_BUF 8192

// One netlink route socket (in whichever netns the thread that opened it was in) and where errors go.
struct nl {
	struct mnl_socket *sock;
	unsigned int seq;
	char *err;
	size_t errlen;
};

// Writes "what: strerror (kernel's message)" into the caller's buffer; returns -errnum.
static int report(struct nl *nl, int errnum, const char *what, const char *extack)
{
	if (nl->err && nl->errlen) {
		if (extack && *extack)
			snprintf(nl->err, nl->errlen, "%s: %s (%s)", what, strerror(errnum), extack);
		else
			snprintf(nl->err, nl->errlen, "%s: %s", what, strerror(errnum));
	}
	return -errnum;
}

static int nl_open(struct nl *nl)
{
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		return report(nl, errno, "netlink socket", NULL);
	int one = 1;
	// Extended ACKs carry the kernel's reason in words; capped ACKs leave our request out of them.
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return report(nl, e, "netlink bind", NULL);
	}
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

// The kernel's NLMSGERR_ATTR_MSG of an error answer, or NULL.
static const char *extack_message(const struct nlmsghdr *r)
{
	if (!(r->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(r);
	size_t off = sizeof(*e);
	if (!(r->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (mnl_nlmsg_size(off) > r->nlmsg_len)
		return NULL;
	const struct nlattr *a;
	mnl_attr_for_each(a, r, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(a);
	}
	return NULL;
}

// Sends one request and waits for its ACK: 0, or -errno with the error written for `what`.
static int nl_talk(struct nl *nl, struct nlmsghdr *h, const char *what)
{
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, h, h->nlmsg_len) < 0)
		return report(nl, errno, what, NULL);
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return report(nl, errno, what, NULL);
		}
		int len = (int)n;
		for (struct nlmsghdr *r = (struct nlmsghdr *)buf; mnl_nlmsg_ok(r, len); r = mnl_nlmsg_next(r, &len)) {
			if (r->nlmsg_seq != nl->seq || r->nlmsg_type != NLMSG_ERROR)
				continue;
			if (r->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
				return report(nl, EBADMSG, what, NULL);
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(r);
			if (e->error == 0)
				return 0;
			return report(nl, -e->error, what, extack_message(r));
		}
	}
}

static struct nlmsghdr *request(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	return h;
}

// `ip link set dev X addrgenmode none`: no IPv6 link-local address (its router solicitations would
// only be drops). Sent before the link goes up, and as its own request, as ip does: the kernel applies
// IFLA_AF_SPEC after the flags within one request. A device without IPv6 (an MTU under IPv6's 1280,
// or a kernel booted without IPv6) answers EAFNOSUPPORT: it gets no link-local either, so that is
// success (`ip` failed the whole ADD there).
static int link_addrgenmode_none(struct nl *nl, int ifindex, const char *what)
{
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h = request(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	struct nlattr *af = mnl_attr_nest_start(h, IFLA_AF_SPEC);
	struct nlattr *in6 = mnl_attr_nest_start(h, AF_INET6);
	mnl_attr_put_u8(h, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(h, in6);
	mnl_attr_nest_end(h, af);
	int ret = nl_talk(nl, h, what);
	if (ret == -EAFNOSUPPORT) {
		if (nl->err && nl->errlen)
			nl->err[0] = 0;
		return 0;
	}
	return ret;
}

static int link_up(struct nl *nl, int ifindex, const char *what)
{
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h = request(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return nl_talk(nl, h, what);
}

// `ip route replace DST/LEN [via GW] dev OIF [mtu MTU]`: main table, proto boot, scope link without a
// gateway and universe with one, as ip sets them. len 0 is the default route (no RTA_DST, as ip).
static int route_replace(struct nl *nl, const uint8_t dst[4], uint8_t len, const uint8_t *gw, int oif, uint32_t mtu, const char *what)
{
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h = request(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (len)
		mnl_attr_put(h, RTA_DST, 4, dst);
	if (gw)
		mnl_attr_put(h, RTA_GATEWAY, 4, gw);
	mnl_attr_put_u32(h, RTA_OIF, (uint32_t)oif);
	if (mtu) {
		struct nlattr *m = mnl_attr_nest_start(h, RTA_METRICS);
		mnl_attr_put_u32(h, RTAX_MTU, mtu);
		mnl_attr_nest_end(h, m);
	}
	return nl_talk(nl, h, what);
}

// The pod side: everything a pod's netns needs, done by a thread that entered it.
struct pod_side {
	int nsfd;
	const char *pod_ifname;
	const uint8_t *pod_ip;
	const uint8_t *gateway;
	const uint8_t *routes; // nroutes × (4 address bytes, 1 prefix length byte)
	uint32_t nroutes;
	uint32_t mtu;
	char *err;
	size_t errlen;
	int ret;
};

static int pod_side_run(struct pod_side *p)
{
	struct nl nl = { .err = p->err, .errlen = p->errlen };
	char what[96];
	if (setns(p->nsfd, CLONE_NEWNET) < 0)
		return report(&nl, errno, "enter the pod's netns", NULL);
	int ret = nl_open(&nl);
	if (ret < 0)
		return ret;
	// if_nametoindex asks through a socket of this thread's netns: the pod's.
	int ifindex = (int)if_nametoindex(p->pod_ifname);
	if (!ifindex) {
		snprintf(what, sizeof(what), "find %s in the pod's netns", p->pod_ifname);
		ret = report(&nl, errno, what, NULL);
		goto out;
	}
	snprintf(what, sizeof(what), "link set dev %s addrgenmode none", p->pod_ifname);
	if ((ret = link_addrgenmode_none(&nl, ifindex, what)) < 0)
		goto out;
	{
		char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
		struct nlmsghdr *h = request(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
		ifa->ifa_family = AF_INET;
		ifa->ifa_prefixlen = 32;
		ifa->ifa_scope = RT_SCOPE_UNIVERSE;
		ifa->ifa_index = (uint32_t)ifindex;
		mnl_attr_put(h, IFA_LOCAL, 4, p->pod_ip);
		mnl_attr_put(h, IFA_ADDRESS, 4, p->pod_ip);
		snprintf(what, sizeof(what), "addr add %u.%u.%u.%u/32 dev %s", p->pod_ip[0], p->pod_ip[1], p->pod_ip[2], p->pod_ip[3], p->pod_ifname);
		if ((ret = nl_talk(&nl, h, what)) < 0)
			goto out;
	}
	snprintf(what, sizeof(what), "link set dev %s up", p->pod_ifname);
	if ((ret = link_up(&nl, ifindex, what)) < 0)
		goto out;
	// The loopback device is ifindex 1 in every network namespace.
	if ((ret = link_up(&nl, 1, "link set dev lo up")) < 0)
		goto out;
	snprintf(what, sizeof(what), "route replace %u.%u.%u.%u dev %s scope link", p->gateway[0], p->gateway[1], p->gateway[2], p->gateway[3], p->pod_ifname);
	if ((ret = route_replace(&nl, p->gateway, 32, NULL, ifindex, 0, what)) < 0)
		goto out;
	for (uint32_t i = 0; i < p->nroutes; i++) {
		const uint8_t *r = p->routes + 5 * i;
		snprintf(what, sizeof(what), "route replace %u.%u.%u.%u/%u via %u.%u.%u.%u dev %s mtu %u", r[0], r[1], r[2], r[3], r[4],
			 p->gateway[0], p->gateway[1], p->gateway[2], p->gateway[3], p->pod_ifname, p->mtu);
		if ((ret = route_replace(&nl, r, r[4], p->gateway, ifindex, p->mtu, what)) < 0)
			goto out;
	}
	ret = 0;
out:
	nl_close(&nl);
	return ret;
}

static void *pod_side_thread(void *arg)
{
	struct pod_side *p = arg;
	p->ret = pod_side_run(p);
	return NULL;
}

static int valid_ifname(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 0 && n < IFNAMSIZ && !strchr(name, '/');
}

/*
 * A pod's veth pair and addressing, what an ADD needs of the kernel:
 *   host:  link add HOST mtu MTU address HOST_MAC type veth peer name POD mtu MTU address POD_MAC netns NS
 *          link set dev HOST addrgenmode none; link set dev HOST up; route replace POD_IP/32 dev HOST
 *   pod:   link set dev POD addrgenmode none; addr add POD_IP/32 dev POD; link set dev POD up;
 *          link set dev lo up; route replace GW dev POD scope link;
 *          for each route: route replace DST via GW dev POD mtu MTU
 * Returns the host side's ifindex, or -errno with a message in err. Stops at the first failure and
 * undoes nothing: the caller's rollback deletes the host side (which takes the peer with it).
 * Addresses are 4 bytes in network order; routes are nroutes × 5 bytes (address, prefix length).
 */
int cnilab_pod_link_add(const char *host_ifname, const char *pod_ifname, const char *netns_path, const uint8_t *host_mac,
			const uint8_t *pod_mac, uint32_t mtu, const uint8_t *pod_ip, const uint8_t *gateway, const uint8_t *routes,
			uint32_t nroutes, char *err, uint32_t errlen)
{
	struct nl nl = { .err = err, .errlen = errlen };
	char what[160];
	if (err && errlen)
		err[0] = 0;
	if (!valid_ifname(host_ifname) || !valid_ifname(pod_ifname))
		return report(&nl, EINVAL, "interface names must be 1-15 characters without '/'", NULL);
	for (uint32_t i = 0; i < nroutes; i++)
		if (routes[5 * i + 4] > 32)
			return report(&nl, EINVAL, "a route's prefix length is over 32", NULL);
	int nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		snprintf(what, sizeof(what), "open netns %s", netns_path);
		return report(&nl, errno, what, NULL);
	}
	int ret = nl_open(&nl);
	if (ret < 0)
		goto out;

	{
		char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
		struct nlmsghdr *h = request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
		struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof(*ifm));
		ifm->ifi_family = AF_UNSPEC;
		mnl_attr_put_strz(h, IFLA_IFNAME, host_ifname);
		mnl_attr_put_u32(h, IFLA_MTU, mtu);
		mnl_attr_put(h, IFLA_ADDRESS, 6, host_mac);
		struct nlattr *linkinfo = mnl_attr_nest_start(h, IFLA_LINKINFO);
		mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
		struct nlattr *data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
		struct nlattr *peer = mnl_attr_nest_start(h, VETH_INFO_PEER);
		// The peer's attributes follow an ifinfomsg of its own, inside the nest.
		struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(h, sizeof(*pifm));
		pifm->ifi_family = AF_UNSPEC;
		mnl_attr_put_strz(h, IFLA_IFNAME, pod_ifname);
		mnl_attr_put_u32(h, IFLA_MTU, mtu);
		mnl_attr_put(h, IFLA_ADDRESS, 6, pod_mac);
		mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)nsfd);
		mnl_attr_nest_end(h, peer);
		mnl_attr_nest_end(h, data);
		mnl_attr_nest_end(h, linkinfo);
		snprintf(what, sizeof(what), "link add %s type veth peer name %s netns %s", host_ifname, pod_ifname, netns_path);
		if ((ret = nl_talk(&nl, h, what)) < 0)
			goto out;
	}
	int ifindex = (int)if_nametoindex(host_ifname);
	if (!ifindex) {
		snprintf(what, sizeof(what), "find %s after creating it", host_ifname);
		ret = report(&nl, errno, what, NULL);
		goto out;
	}
	snprintf(what, sizeof(what), "link set dev %s addrgenmode none", host_ifname);
	if ((ret = link_addrgenmode_none(&nl, ifindex, what)) < 0)
		goto out;
	snprintf(what, sizeof(what), "link set dev %s up", host_ifname);
	if ((ret = link_up(&nl, ifindex, what)) < 0)
		goto out;
	snprintf(what, sizeof(what), "route replace %u.%u.%u.%u/32 dev %s", pod_ip[0], pod_ip[1], pod_ip[2], pod_ip[3], host_ifname);
	if ((ret = route_replace(&nl, pod_ip, 32, NULL, ifindex, 0, what)) < 0)
		goto out;

	{
		struct pod_side p = {
			.nsfd = nsfd, .pod_ifname = pod_ifname, .pod_ip = pod_ip, .gateway = gateway,
			.routes = routes, .nroutes = nroutes, .mtu = mtu, .err = err, .errlen = errlen, .ret = 0,
		};
		pthread_t t;
		int e = pthread_create(&t, NULL, pod_side_thread, &p);
		if (e) {
			ret = report(&nl, e, "start the pod-side thread", NULL);
			goto out;
		}
		pthread_join(t, NULL);
		if ((ret = p.ret) < 0)
			goto out;
	}
	ret = ifindex;
out:
	nl_close(&nl);
	close(nsfd);
	return ret;
}

/* `ip link del NAME` in the calling thread's netns (the node's): 0, or -errno (-ENODEV: no such link). */
int cnilab_link_del(const char *ifname, char *err, uint32_t errlen)
{
	struct nl nl = { .err = err, .errlen = errlen };
	char what[64];
	if (err && errlen)
		err[0] = 0;
	if (!valid_ifname(ifname))
		return report(&nl, EINVAL, "interface names must be 1-15 characters without '/'", NULL);
	int ret = nl_open(&nl);
	if (ret < 0)
		return ret;
	char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h = request(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, ifname);
	snprintf(what, sizeof(what), "link del %s", ifname);
	ret = nl_talk(&nl, h, what);
	nl_close(&nl);
	return ret;
}
