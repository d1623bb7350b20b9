import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

/**
 * A tiny ZIP reader: enough to pull one entry out of an archive (stored or deflated, no ZIP64,
 * no encryption). It reads the central directory at the end of the file, so only the bytes of
 * the wanted entry are read, and checks the entry's CRC-32.
 */
export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`zip: unexpected end of file at ${position + done}`);
    done += n;
  }
  return buf;
}

export function listZipEntries(file: string): ZipEntry[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tailLength = Math.min(size, EOCD_MIN + MAX_COMMENT);
    const tail = readAt(fd, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - EOCD_MIN; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`zip: ${file} has no end-of-central-directory record`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdOffset === 0xffffffff) throw new Error(`zip: ${file} is ZIP64, not supported`);
    const cd = readAt(fd, cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== CENTRAL_SIGNATURE) throw new Error(`zip: bad central directory entry ${i} in ${file}`);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      entries.push({
        method: cd.readUInt16LE(p + 10),
        crc32: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
        name: cd.toString('utf8', p + 46, p + 46 + nameLength),
      });
      p += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    fs.closeSync(fd);
  }
}

/** The uncompressed bytes of one entry, CRC-checked. */
export function readZipEntry(file: string, entryName: string): { entry: ZipEntry; data: Buffer } {
  const entry = listZipEntries(file).find((e) => e.name === entryName);
  if (!entry) throw new Error(`zip: ${file} has no entry ${entryName}`);
  if (entry.size === 0xffffffff || entry.compressedSize === 0xffffffff) {
    throw new Error(`zip: entry ${entryName} is ZIP64, not supported`);
  }
  const fd = fs.openSync(file, 'r');
  try {
    const header = readAt(fd, entry.localHeaderOffset, 30);
    if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new Error(`zip: bad local header for ${entryName}`);
    if (header.readUInt16LE(6) & 0x1) throw new Error(`zip: entry ${entryName} is encrypted`);
    const start = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    const raw = readAt(fd, start, entry.compressedSize);
    let data: Buffer;
    if (entry.method === 0) data = raw;
    else if (entry.method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`zip: entry ${entryName} uses compression method ${entry.method}, not supported`);
    if (data.length !== entry.size) throw new Error(`zip: entry ${entryName} inflated to ${data.length} bytes, expected ${entry.size}`);
    const crc = zlib.crc32(data);
    if (crc !== entry.crc32) throw new Error(`zip: entry ${entryName} fails its CRC-32 check`);
    return { entry, data };
  } finally {
    fs.closeSync(fd);
  }
}
