// Loopback peers for the agnhost probe tools' unit tests: a UDP server that names itself to whoever
// writes to it, and a TCP port on 127.0.0.1 that nothing listens on (a connection there is refused).
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';

/** A UDP socket on 127.0.0.1 that answers every datagram with `name`. */
export async function udpNamer(name: string): Promise<dgram.Socket> {
  const udp = dgram.createSocket('udp4');
  udp.on('message', (_m, rinfo) => udp.send(name, rinfo.port, rinfo.address));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  return udp;
}

/** A port that was free a moment ago: listened on, then closed. */
export async function closedLoopbackPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  return port;
}
