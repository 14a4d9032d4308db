/**
 * Cuts a stream of bytes into newline-terminated lines without decoding them. Lines are handed
 * over as ranges of the chunk they sit in (no copy) while they lie inside one chunk; a line that
 * spans chunks is copied once into a buffer of its own. A line longer than `maxLineBytes` is not
 * kept whole: its first `keepBytes` are handed over with its full length.
 */
export interface LineSink {
  /** One line, newline excluded: bytes [start, end) of `buffer`; `number` counts from 1, `offset` is its first byte in the stream. */
  line(buffer: Buffer, start: number, end: number, number: number, offset: number): void;
  /** A line over the limit: its first bytes and its whole length. */
  tooLong(head: Buffer, length: number, number: number, offset: number): void;
}

const NEWLINE = 0x0a;

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Bytes of the current line seen past the limit (the line is then only counted). */
  private skipping = false;
  private lineNumber = 0;
  private offset = 0;
  private lineStart = 0;

  constructor(
    private readonly sink: LineSink,
    private readonly maxLineBytes: number,
    private readonly keepBytes = 64 * 1024,
  ) {}

  /** Lines read so far. */
  get lines(): number {
    return this.lineNumber;
  }

  /** Bytes read so far. */
  get bytes(): number {
    return this.offset;
  }

  feed(chunk: Buffer): void {
    let start = 0;
    const length = chunk.length;
    while (start < length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? length : nl;
      if (nl === -1) {
        this.hold(chunk, start, end);
        break;
      }
      if (this.carryBytes > 0 || this.skipping) {
        this.hold(chunk, start, end);
        this.flushCarry();
      } else if (end - start > this.maxLineBytes) {
        this.lineNumber += 1;
        this.sink.tooLong(
          Buffer.from(chunk.subarray(start, start + this.keepBytes)),
          end - start,
          this.lineNumber,
          this.lineStart,
        );
      } else {
        this.lineNumber += 1;
        this.sink.line(chunk, start, end, this.lineNumber, this.lineStart);
      }
      start = nl + 1;
      this.lineStart = this.offset + start;
    }
    this.offset += length;
  }

  /**
   * Ends the stream: a last line without its newline is handed over (`unterminated` tells the
   * caller it was one). Answers whether there was such a line.
   */
  end(): boolean {
    if (this.carryBytes === 0 && !this.skipping) return false;
    this.flushCarry();
    return true;
  }

  private hold(chunk: Buffer, start: number, end: number): void {
    if (this.skipping) {
      this.carryBytes += end - start;
      return;
    }
    // A copy: the chunk must not stay alive through a slice of it.
    this.carry.push(Buffer.from(chunk.subarray(start, end)));
    this.carryBytes += end - start;
    if (this.carryBytes > this.maxLineBytes) {
      const head = Buffer.concat(this.carry).subarray(0, this.keepBytes);
      this.carry = [Buffer.from(head)];
      this.skipping = true;
    }
  }

  private flushCarry(): void {
    this.lineNumber += 1;
    if (this.skipping) {
      this.sink.tooLong(this.carry[0] ?? Buffer.alloc(0), this.carryBytes, this.lineNumber, this.lineStart);
    } else {
      const line = this.carry.length === 1 ? (this.carry[0] as Buffer) : Buffer.concat(this.carry);
      this.sink.line(line, 0, line.length, this.lineNumber, this.lineStart);
    }
    this.carry = [];
    this.carryBytes = 0;
    this.skipping = false;
  }
}
