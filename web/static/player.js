// The recording player of a committee meeting. The server arranges the meeting
// (recordings/playback.py): the composite, one row per person whose audio and video were filed
// as separate files (and again after a reconnect: segments), and a timeline — all on the
// meeting clock (seconds after the meeting started). A file that starts at `start` on that
// clock plays moment `t` at its own time `t - start`.
//
// One player: a person's video with their audio in a hidden <audio> kept in step with it, or
// their audio alone in a visible audio player. The server answers Range requests, so a seek
// loads only what is needed.
import { label } from '/static/app.js';

const DRIFT = 0.25; // seconds the audio may wander from the picture before it is put back

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

// Resolves once `element` plays `url` and knows its duration (at once if it already does).
function load(element, url) {
  if (!url) {
    delete element.dataset.url;
    element.removeAttribute('src');
    element.load();
    return Promise.resolve();
  }
  if (element.dataset.url === url && element.readyState >= 1) return Promise.resolve();
  element.dataset.url = url;
  return new Promise((resolve) => {
    element.addEventListener('loadedmetadata', () => resolve(), { once: true });
    element.addEventListener('error', () => resolve(), { once: true });
    element.src = url;
  });
}

// Which part of a person to play for meeting moment `at`: the segment that covers it, else the
// next one, else the last (`covered` says whether the person was recorded then).
export function segmentAt(segments, at) {
  const covering = segments.find((s) => s.start <= at && (s.end == null || at <= s.end));
  if (covering) return { segment: covering, covered: true };
  const next = segments.find((s) => s.start > at);
  if (next) return { segment: next, covered: false };
  return { segment: segments[segments.length - 1], covered: false };
}

class Player {
  constructor(root, data) {
    this.root = root;
    this.data = data;
    this.video = root.querySelector('video[data-player]');
    this.audio = root.querySelector('audio[data-testid="recording-audio"]');
    this.caption = root.querySelector('[data-testid="now-playing"]');
    this.people = Object.fromEntries(data.people.map((p) => [p.participant_id, p]));
    this.source = null; // {row, segment, primary: {url, start}, follower: {url, start} | null}
    this.keepInStep();
  }

  // The element the person sees and drives, and the one following it.
  get primary() { return this.source?.primary === this.source?.video ? this.video : this.audio; }

  describe(row, segment) {
    if (row === 'composite') return { row, video: this.data.composite, audio: null, segment: null };
    return { row, segment, video: segment.video, audio: segment.audio };
  }

  async select(row, segmentIndex = 0) {
    const source = row === 'composite' ? this.describe('composite')
      : this.describe(row, this.people[row].segments[segmentIndex]);
    source.index = row === 'composite' ? null : segmentIndex;
    source.primary = source.video || source.audio;
    const same = this.source && this.source.row === source.row && this.source.index === source.index;
    this.source = source;
    this.video.pause();
    this.audio.pause();
    const showVideo = Boolean(source.video);
    this.video.hidden = !showVideo;
    this.audio.hidden = showVideo; // alone, the audio has its own controls; beside a video it follows
    this.audio.controls = !showVideo;
    if (!same) {
      await Promise.all([
        load(this.video, source.video?.url),
        load(this.audio, showVideo ? source.audio?.url : source.audio.url),
      ]);
    }
    for (const li of this.root.querySelectorAll('[data-row]')) {
      const playing = li.dataset.row === row;
      li.classList.toggle('playing', playing);
      li.dataset.playing = String(playing);
      for (const b of li.querySelectorAll('[data-segment]')) {
        b.classList.toggle('current', playing && Number(b.dataset.segment) === source.index);
      }
    }
    const name = this.root.querySelector(`[data-row="${CSS.escape(row)}"] [data-name]`)?.textContent || '';
    this.root.dataset.source = row;
    this.root.dataset.segment = source.index == null ? '' : String(source.index);
    this.caption.textContent = name;
  }

  // Seek what is playing (the composite, or a person's track) to meeting moment `at`.
  async seekTo(at, { row = null, play = true } = {}) {
    let target = row || this.source?.row || (this.data.composite ? 'composite' : this.data.people[0]?.participant_id);
    if (!target) return;
    let covered = true;
    let index = 0;
    if (target !== 'composite') {
      const segments = this.people[target].segments;
      if (!segments.length) return;
      const found = segmentAt(segments, at);
      covered = found.covered;
      index = segments.indexOf(found.segment);
    }
    await this.select(target, index);
    const media = this.source.primary;
    const element = this.primary;
    let time = Math.max(0, at - media.start);
    if (!covered && at > media.start) time = Math.max(0, (media.end ?? at) - media.start);
    if (Number.isFinite(element.duration)) time = Math.min(time, element.duration);
    const seeked = new Promise((resolve) => element.addEventListener('seeked', resolve, { once: true }));
    element.currentTime = time;
    await seeked;
    this.follow();
    this.root.dataset.seeks = String(Number(this.root.dataset.seeks || 0) + 1); // a seek asked for is done
    this.caption.dataset.covered = String(covered);
    if (!covered) this.caption.textContent += ` — ${label('archive_not_recorded_then')}`;
    if (play) element.play().catch(() => {});
  }

  // The hidden audio beside a video: same moment of the meeting, same play/pause, rate, volume.
  follow() {
    const source = this.source;
    if (!source || !source.video || !source.audio) return;
    const target = this.video.currentTime + source.video.start - source.audio.start;
    const inside = target >= 0 && (!Number.isFinite(this.audio.duration) || target <= this.audio.duration);
    if (!inside) {
      if (!this.audio.paused) this.audio.pause();
      return;
    }
    if (Math.abs(this.audio.currentTime - target) > DRIFT) this.audio.currentTime = target;
    this.audio.playbackRate = this.video.playbackRate;
    this.audio.muted = this.video.muted;
    this.audio.volume = this.video.volume;
    if (this.video.paused || this.video.ended) {
      if (!this.audio.paused) this.audio.pause();
    } else if (this.audio.paused) {
      this.audio.play().catch(() => {});
    }
  }

  keepInStep() {
    for (const type of ['play', 'pause', 'seeked', 'ratechange', 'volumechange', 'timeupdate', 'ended']) {
      this.video.addEventListener(type, () => this.follow());
    }
    const mark = () => {
      const element = this.primary;
      if (!this.source || !element) return;
      const now = element.currentTime + this.source.primary.start; // on the meeting clock
      let current = null;
      for (const li of this.root.querySelectorAll('[data-testid="timeline"] li')) {
        if (Number(li.dataset.at) <= now) current = li;
      }
      for (const li of this.root.querySelectorAll('[data-testid="timeline"] li')) li.classList.toggle('current', li === current);
      this.root.dataset.clock = clock(now);
    };
    this.video.addEventListener('timeupdate', mark);
    this.audio.addEventListener('timeupdate', mark);
  }
}

async function setUp(root) {
  const script = document.getElementById('playback-data');
  const list = root.querySelector('[data-testid="timeline"]');
  if (!script) {
    if (list) {
      list.textContent = label('tl_no_manifest');
      list.dataset.ready = 'true';
    }
    return;
  }
  const player = new Player(root, JSON.parse(script.textContent));
  for (const li of root.querySelectorAll('[data-row]')) {
    li.querySelector('[data-play]')?.addEventListener('click', async () => {
      await player.select(li.dataset.row, 0);
      player.primary.play().catch(() => {});
    });
    for (const button of li.querySelectorAll('[data-segment]')) {
      button.addEventListener('click', async () => {
        await player.select(li.dataset.row, Number(button.dataset.segment));
        player.primary.play().catch(() => {});
      });
    }
  }
  for (const li of list.querySelectorAll('li')) {
    const at = Number(li.dataset.at);
    li.querySelector('[data-seek]')?.addEventListener('click', () => player.seekTo(at));
    li.querySelector('[data-person-seek]')?.addEventListener('click', () => {
      if (player.people[li.dataset.participant]?.segments.length) player.seekTo(at, { row: li.dataset.participant });
    });
  }
  // Start where the person came from: the row of the recording opened, else the composite.
  const selected = player.data.selected;
  const first = selected?.row || (player.data.composite ? 'composite' : player.data.people.find((p) => p.segments.length)?.participant_id);
  if (first) await player.select(first, selected?.segment || 0);
  list.dataset.ready = 'true';
  root.dataset.ready = 'true';
}

const root = document.querySelector('[data-testid="playback"]');
if (root) setUp(root);
