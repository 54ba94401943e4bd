// Parsing of pipelined HTTP/1.1 answers (httpGetAll: /hostname and /clientip over one connection).
import { describe, expect, it } from 'vitest';
import { parseHttpResponses } from './service-probe.js';

const answer = (body: string, status = '200 OK') => `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('parseHttpResponses', () => {
  it('splits pipelined answers by Content-Length', () => {
    expect(parseHttpResponses(answer('web-node2') + answer('198.18.0.12:40000'), 2)).toEqual(['web-node2', '198.18.0.12:40000']);
  });
  it('says which answer is missing, cut short, or not a 200', () => {
    expect(parseHttpResponses(answer('web-node2'), 2)).toMatch(/response 2 of 2 missing/);
    expect(parseHttpResponses(answer('web-node2').slice(0, -2), 1)).toMatch(/cut short/);
    expect(parseHttpResponses(answer('x', '404 Not Found'), 1)).toMatch(/response 1/);
    expect(parseHttpResponses('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n', 1)).toMatch(/response 1/);
  });
});
