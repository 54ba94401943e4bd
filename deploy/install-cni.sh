#!/bin/sh
# The DaemonSet's install-cni init step: put cnilab's CNI plugin into the node's CNI bin directory and
# its conflist into the node's CNI config directory, atomically (write, then rename), so the runtime
# never reads half a file. Only the C entry point is installed: it forwards to the agent's socket and
# answers 11 (try again later) while the agent is not up.
set -eu
: "${CNI_BIN_DIR:=/host/opt/cni/bin}"
: "${CNI_CONF_DIR:=/host/etc/cni/net.d}"
: "${CNILAB_CONFIG_DIR:=/etc/cnilab}"
mkdir -p "$CNI_BIN_DIR" "$CNI_CONF_DIR"
cp "${CNILAB_PLUGIN:-/opt/cnilab/bin/cni/cnilab}" "$CNI_BIN_DIR/.cnilab.tmp"
chmod 0755 "$CNI_BIN_DIR/.cnilab.tmp"
mv -f "$CNI_BIN_DIR/.cnilab.tmp" "$CNI_BIN_DIR/cnilab"
cp "$CNILAB_CONFIG_DIR/05-cnilab.conflist" "$CNI_CONF_DIR/.05-cnilab.conflist.tmp"
mv -f "$CNI_CONF_DIR/.05-cnilab.conflist.tmp" "$CNI_CONF_DIR/05-cnilab.conflist"
echo "cnilab: installed $CNI_BIN_DIR/cnilab and $CNI_CONF_DIR/05-cnilab.conflist"
