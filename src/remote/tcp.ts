// The TCP connection under an SSH connection, opened before the SSH stack has loaded (the
// handshake's first round trips overlap loading it), with Nagle off from the first byte: the SSH
// handshake is a string of small packets, each of which would otherwise wait for the previous
// one's ACK (a round trip apiece on a WAN link: 0.5 s of a 100 ms RTT handshake).
import { createConnection, type Socket } from "node:net";

export interface Tcp {
  sock: Socket;
  /** an error the socket had before anyone else listened (refused, unreachable) */
  early(): Error | undefined;
}

export function openTcp(host: string, port: number): Tcp {
  const sock = createConnection({ host, port, noDelay: true });
  let error: Error | undefined;
  sock.once("error", (e) => (error = e));
  return { sock, early: () => error };
}
