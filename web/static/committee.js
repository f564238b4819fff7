// The committee room: Socket.IO signaling (vendored client, window.io) and WebRTC with the
// committee server (an SFU: one sending connection, one receiving connection per other
// participant), VP8 video with a capped bitrate, the phase banner, the convener's controls and
// the vote with its fingerprint step. Also the convener's meeting setup form.
import { api, label, toast } from '/static/app.js';
import { stepUp } from '/static/fingerprint.js';

const MAX_VIDEO_BITRATE = 500_000; // the server relays REMB to nobody: the sender caps itself
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 } };
const phaseName = (code) => label(`phase_${code}`);
const roleName = (code) => (code ? label(`meeting_role_${code}`) : '');

function preferCodecs(transceiver, kind) {
  if (!RTCRtpReceiver.getCapabilities || !transceiver.setCodecPreferences) return;
  const wanted = kind === 'video' ? ['video/vp8', 'video/rtx'] : ['audio/opus'];
  const codecs = RTCRtpReceiver.getCapabilities(kind).codecs.filter((c) => wanted.includes(c.mimeType.toLowerCase()));
  transceiver.setCodecPreferences(codecs);
}

// The server (aiortc) does not trickle ICE: send the offer once every candidate is in it.
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === 'complete') { pc.removeEventListener('icegatheringstatechange', check); resolve(); } };
    pc.addEventListener('icegatheringstatechange', check);
    setTimeout(resolve, 3000);
  });
}

function randomNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// How long a path may be `disconnected`, or a tile without a new frame, before the page builds
// a fresh connection (the server's own limits, sent with the page; aiortc has no ICE restart).
const DEFAULT_WATCH = { grace_ms: 3000, stall_ms: 5000 };
const CHECK_MS = 1000;
const TILE_STATES = ['live', 'reconnecting', 'gone'];
const SPEAKING_RMS = 0.02; // audio level (RMS of the samples, 0..1) above which a tile shows speaking
const LEVEL_MS = 200;
const NODE_RETRY_MS = 500; // between tries of the entry node while a dead media node's lease lapses

class Room {
  constructor(root) {
    this.root = root;
    this.view = JSON.parse(root.dataset.committeeRoom);
    this.watch = { ...DEFAULT_WATCH, ...JSON.parse(root.dataset.reconnect || '{}') };
    this.tiles = root.querySelector('[data-tiles]');
    this.people = new Map((this.view.participants || []).map((p) => [String(p.user_id), p]));
    this.subscriptions = new Map(); // publisher id -> RTCPeerConnection
    this.known = new Map(); // publisher id -> {participant_id, role, display_name}
    this.health = new WeakMap(); // RTCPeerConnection -> {since, disconnectedSince, frames, progressAt}
    this.publisher = null;
    this.socket = null;
    this.rebuilding = null;
    this.ended = false;
    this.reconnects = 0; // fresh publish connections after the first (what the browser test reads)
    this.joinedOnce = false; // a later connect (any node) is a reconnect
    // Several committee nodes: the entry URL (a balancer or any node; '' = this page's origin),
    // the node the signaling is on now, and how many times the page followed the meeting.
    this.home = (root.dataset.committeeUrl || '').replace(/\/+$/, '');
    this.node = this.home;
    this.moves = 0;
    this.trail = []; // the nodes the signaling went to, in order (what the browser test reads)
    this.homeward = null;
  }

  message(text) {
    const box = this.root.querySelector('[data-room-message]');
    if (box) box.textContent = text;
  }

  // The banner about one's own connection: live, reconnecting (by itself), lost.
  connection(state) {
    const banner = this.root.querySelector('[data-connection]');
    if (!banner || banner.dataset.state === state) return;
    banner.dataset.state = state;
    banner.textContent = label(`cm_connection_${state}`);
    banner.hidden = false;
  }

  tile(id, label) {
    let tile = this.tiles.querySelector(`[data-tile="${CSS.escape(id)}"]`);
    if (!tile) {
      tile = document.createElement('figure');
      tile.className = 'tile';
      tile.dataset.tile = id;
      const video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.width = 320;
      video.height = 240;
      const caption = document.createElement('figcaption');
      const name = document.createElement('span');
      name.dataset.tileName = '';
      name.textContent = label;
      caption.append(name);
      if (id !== 'me') {
        const state = document.createElement('span');
        state.className = 'tile-state';
        state.dataset.tileState = '';
        caption.append(' ', state);
      }
      tile.append(video, caption);
      this.tiles.append(tile);
      this.layout();
    }
    return tile.querySelector('video');
  }

  // As square a grid as the tiles allow; the stylesheet keeps the rows within the window.
  layout() {
    const count = this.tiles.children.length;
    const columns = Math.max(1, Math.ceil(Math.sqrt(count)));
    this.tiles.style.setProperty('--columns', String(columns));
    this.tiles.style.setProperty('--rows', String(Math.max(1, Math.ceil(count / columns))));
  }

  // Speaking indicator: the level of each tile's audio, measured in the page (Web Audio).
  listen(id, stream) {
    if (!window.AudioContext || !stream.getAudioTracks().length) return;
    this.audio ??= new AudioContext();
    if (this.audio.state === 'suspended') {
      document.addEventListener('click', () => this.audio.resume(), { once: true });
      this.audio.resume().catch(() => {});
    }
    const analyser = this.audio.createAnalyser();
    analyser.fftSize = 512;
    this.audio.createMediaStreamSource(stream).connect(analyser);
    this.levels ??= new Map();
    this.levels.set(id, analyser);
    this.levelTimer ??= setInterval(() => this.measureLevels(), LEVEL_MS);
  }

  measureLevels() {
    const samples = new Float32Array(512);
    for (const [id, analyser] of this.levels) {
      const tile = this.tiles.querySelector(`[data-tile="${CSS.escape(id)}"]`);
      if (!tile) { this.levels.delete(id); continue; }
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const x of samples) sum += x * x;
      const speaking = Math.sqrt(sum / samples.length) > SPEAKING_RMS && tile.dataset.state !== 'gone';
      if (tile.dataset.speaking !== String(speaking)) {
        tile.dataset.speaking = String(speaking);
        tile.title = speaking ? label('cm_media_speaking') : '';
      }
    }
  }

  // Mute and camera: the tracks stay (the connection and the recording go on), disabled.
  bindMediaControls() {
    const box = this.root.querySelector('[data-media-controls]');
    if (!box) return;
    box.hidden = false;
    const toggle = (button, kind, on, off) => button?.addEventListener('click', () => {
      const disabled = button.getAttribute('aria-pressed') !== 'true';
      this.media.getTracks().filter((t) => t.kind === kind).forEach((t) => { t.enabled = !disabled; });
      button.setAttribute('aria-pressed', String(disabled));
      button.textContent = label(disabled ? on : off);
    });
    toggle(box.querySelector('[data-mute]'), 'audio', 'cm_media_unmute', 'cm_media_mute');
    toggle(box.querySelector('[data-camera]'), 'video', 'cm_media_camera_on', 'cm_media_camera_off');
  }

  // After being sent away (an officer when deliberation begins) the banner still says where
  // the meeting is.
  async refreshPhase() {
    try {
      const view = await api('GET', `/api/committee/meetings/${this.view.id}`);
      const banner = this.root.querySelector('[data-phase-banner]');
      banner.textContent = phaseName(view.phase);
      banner.dataset.phase = view.phase;
      this.view.phase = view.phase;
      if (this.view.my_role === 'officer' && !['scheduled', 'open'].includes(view.phase)) {
        this.message(label('cm_officers_done'));
      }
    } catch (failure) { /* the reason shown already says why the page left the room */ }
  }

  // A tile's state: live (frames arriving), reconnecting (its path or the publisher's is being
  // rebuilt), gone (the person left the room).
  setTile(id, state) {
    if (!TILE_STATES.includes(state)) return;
    const tile = this.tiles?.querySelector(`[data-tile="${CSS.escape(id)}"]`);
    if (!tile || tile.dataset.state === state) return;
    tile.dataset.state = state;
    const text = tile.querySelector('[data-tile-state]');
    if (text) text.textContent = label(`cm_tile_${state}`);
  }

  label(id, role, name) {
    const person = this.people.get(String(id));
    return `${name || person?.name || id} · ${roleName(role || person?.role)}`;
  }

  async token() {
    return (await api('POST', `/api/committee/meetings/${this.view.id}/join`)).token;
  }

  async start() {
    this.bindControls();
    if (!this.tiles || ['closed'].includes(this.view.phase)) return;
    try {
      this.joinToken = await this.token();
    } catch (failure) {
      this.message(failure.message);
      return;
    }
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: VIDEO });
    const mine = this.tile('me', this.label(this.view.me || '', this.view.my_role, label('cm_me')));
    mine.muted = true;
    mine.srcObject = media;
    this.media = media;
    this.listen('me', media);
    this.bindMediaControls();
    this.connectTo(this.home);
    this.timer = setInterval(() => this.check().catch(() => {}), CHECK_MS);
  }

  // The signaling to one committee node (its URL, or '' for the page's own origin). The
  // Socket.IO link reconnects by itself after a network drop (with the token of the moment: a
  // long meeting outlives a join token, and a new one is asked for on refusal). The token goes
  // in the auth payload, not a cookie, so a node of another origin accepts it.
  connectTo(url) {
    const old = this.socket;
    if (old) { old.off(); old.disconnect(); }
    this.node = url;
    this.trail.push(url);
    const options = { auth: (send) => send({ token: this.joinToken }), transports: ['websocket'], forceNew: true };
    const socket = url ? window.io(url, options) : window.io(options);
    this.socket = socket;
    socket.on('connect_error', (error) => {
      // this node does not serve the meeting: go to the one that does
      const named = error?.data?.media_node;
      if (named) this.move(named);
      // the node we were sent to is unreachable (it died; its lease has not lapsed yet): the
      // entry node knows where the meeting goes next
      else if (this.node !== this.home && socket.active) this.backHome();
      else this.refused(error);
    });
    socket.on('connect', () => {
      if (this.joinedOnce) this.reconnects += 1;
      this.joinedOnce = true;
      this.connection('reconnecting');
      // a fresh seat: publish; the server's "participants" brings the others
      this.publish().catch((e) => this.message(e.message));
    });
    socket.on('disconnect', (reason) => {
      if (this.ended) return;
      this.connection(reason === 'io server disconnect' ? 'lost' : 'reconnecting');
      // the server drops a seat's media with its link: these connections are dead
      this.closeMedia();
      // a media node we were sent to went away: its own reconnection would knock at a dead door
      if (reason !== 'io server disconnect' && this.node !== this.home) this.backHome();
    });
    socket.on('participants', (items) => items.forEach((p) => this.subscribe(p)));
    socket.on('published', (p) => this.subscribe(p));
    socket.on('left', ({ participant_id: id }) => this.drop(id));
    socket.on('removed', ({ reason }) => { this.message(reason); this.end(); this.refreshPhase(); });
    socket.on('phase', ({ phase }) => this.phaseChanged(phase));
    // the server found this page's media path dead: a fresh connection, no user action
    socket.on('reconnect', () => this.rebuild().catch((e) => this.message(e.message)));
    socket.on('participant-state', ({ participant_id: id, state }) => {
      const pc = this.subscriptions.get(id);
      if (pc) { this.subscriptions.delete(id); pc.close(); }
      this.setTile(id, state);
    });
    socket.on('resubscribe', ({ publisher_id: id }) => {
      if (this.known.has(id)) this.subscribe(this.known.get(id));
    });
    // the meeting's media moved to another node (its node stalled, or gave it up)
    socket.on('media_node', ({ url } = {}) => this.move(url || this.home));
  }

  // Join the meeting on the node at `url`: new signaling, new peer connections (the server has
  // no ICE restart), the same join token (a fresh one if refused); tiles wait meanwhile.
  move(url) {
    if (this.ended) return;
    let target = this.home;
    try {
      const parsed = new URL(url, window.location.href);
      if (['http:', 'https:'].includes(parsed.protocol)) target = parsed.origin;
    } catch (failure) { /* not a URL: ask the entry node again */ }
    clearTimeout(this.homeward);
    this.homeward = null;
    this.moves += 1;
    this.closeMedia();
    this.connection('reconnecting');
    this.connectTo(target === window.location.origin && !this.home ? '' : target);
  }

  // Back to the entry node after a pause (the polling of a reconnecting client).
  backHome() {
    if (this.homeward || this.ended) return;
    this.socket.off();
    this.socket.disconnect();
    this.homeward = setTimeout(() => { this.homeward = null; this.move(this.home); }, NODE_RETRY_MS);
  }

  // A refused connection: an expired token is replaced (the API applies the meeting's rules:
  // an officer after deliberation gets none); anything else ends the page's part.
  async refused(error) {
    // a transport error while the link is down: the client keeps trying by itself
    if (this.ended || this.socket.active) return;
    try {
      this.joinToken = await this.token();
      this.socket.connect();
    } catch (failure) {
      this.message(`${label('cm_cannot_join')}: ${failure.message || error.message}`);
      this.end();
    }
  }

  watched(pc) {
    this.health.set(pc, { since: Date.now(), disconnectedSince: null, frames: 0, progressAt: Date.now() });
    pc.addEventListener('connectionstatechange', () => {
      if (pc === this.publisher && pc.connectionState === 'connected') this.connection('live');
    });
    return pc;
  }

  // failed, closed (also by the page itself), or disconnected past the grace
  dead(pc, now) {
    const health = this.health.get(pc);
    const states = [pc.connectionState, pc.iceConnectionState];
    if (pc.signalingState === 'closed' || states.some((s) => s === 'failed' || s === 'closed')) return true;
    if (states.includes('disconnected')) {
      health.disconnectedSince ??= now;
      return now - health.disconnectedSince > this.watch.grace_ms;
    }
    health.disconnectedSince = null;
    return false;
  }

  // no new decoded frame for the stall limit (also a path ICE still believes in)
  async stalled(id, pc, now) {
    const health = this.health.get(pc);
    let frames = 0;
    (await pc.getStats()).forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') frames = report.framesDecoded || 0;
    });
    if (frames > health.frames) {
      health.frames = frames;
      health.progressAt = now;
      this.setTile(id, 'live');
      return false;
    }
    return now - health.progressAt > this.watch.stall_ms;
  }

  async check() {
    if (this.ended || this.rebuilding || !this.socket?.connected || !this.publisher) return;
    const now = Date.now();
    if (this.dead(this.publisher, now)) {
      await this.rebuild();
      return;
    }
    if (this.publisher.connectionState === 'connected') this.connection('live');
    for (const [id, pc] of [...this.subscriptions]) {
      if (this.subscriptions.get(id) !== pc) continue;
      if (this.dead(pc, now) || await this.stalled(id, pc, now)) {
        this.setTile(id, 'reconnecting');
        if (this.known.has(id)) this.subscribe(this.known.get(id));
      }
    }
  }

  // A fresh publishing connection (the server treats it as the same seat coming back) and fresh
  // receiving ones; the old ones are closed. One rebuild at a time.
  closeMedia() {
    for (const [id, pc] of this.subscriptions) { pc.close(); this.setTile(id, 'reconnecting'); }
    this.subscriptions.clear();
    this.publisher?.close();
    this.publisher = null;
  }

  rebuild() {
    if (this.ended) return Promise.resolve();
    if (this.rebuilding) return this.rebuilding;
    this.connection('reconnecting');
    const others = [...this.subscriptions.keys()];
    this.rebuilding = (async () => {
      this.closeMedia();
      while (!this.ended && this.socket.connected) {
        try {
          await this.publish();
          this.reconnects += 1;
          break;
        } catch (failure) {
          this.message(failure.message);
          await new Promise((resolve) => setTimeout(resolve, this.watch.grace_ms));
        }
      }
      for (const id of others) if (this.known.has(id)) this.subscribe(this.known.get(id));
    })().finally(() => { this.rebuilding = null; });
    return this.rebuilding;
  }

  async publish() {
    const pc = this.watched(new RTCPeerConnection({ iceServers: [] }));
    this.publisher = pc;
    for (const track of this.media.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [this.media] });
      preferCodecs(transceiver, track.kind);
      if (track.kind === 'video') {
        const parameters = transceiver.sender.getParameters();
        parameters.encodings = [{ ...(parameters.encodings?.[0] || {}), maxBitrate: MAX_VIDEO_BITRATE }];
        await transceiver.sender.setParameters(parameters).catch(() => {});
      }
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await this.socket.emitWithAck('publish', { sdp: pc.localDescription.sdp, type: 'offer' });
    if (answer.refused) {
      // the meeting's rules no longer admit this seat (e.g. an officer after the presentation)
      this.message(answer.error);
      this.end();
      return;
    }
    if (answer.error) { pc.close(); throw new Error(answer.error); }
    await pc.setRemoteDescription(answer);
    this.message('');
  }

  async subscribe({ participant_id: id, role, display_name: name }) {
    if (this.ended) return;
    this.known.set(id, { participant_id: id, role, display_name: name });
    this.subscriptions.get(id)?.close();
    const pc = this.watched(new RTCPeerConnection({ iceServers: [] }));
    this.subscriptions.set(id, pc);
    preferCodecs(pc.addTransceiver('audio', { direction: 'recvonly' }), 'audio');
    preferCodecs(pc.addTransceiver('video', { direction: 'recvonly' }), 'video');
    const video = this.tile(id, this.label(id, role, name));
    // a tile that was showing someone waits for their frames again (a first one has no state yet)
    if (video.closest('[data-tile]').dataset.state) this.setTile(id, 'reconnecting');
    const stream = new MediaStream();
    video.srcObject = stream;
    pc.addEventListener('track', (event) => {
      stream.addTrack(event.track);
      if (event.track.kind === 'audio') this.listen(id, stream);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await this.socket.emitWithAck('subscribe', { publisher_id: id, sdp: pc.localDescription.sdp, type: 'offer' });
    if (this.subscriptions.get(id) !== pc) { pc.close(); return; } // replaced meanwhile
    if (answer.error) {
      // e.g. that person is reconnecting: their "published" comes when they are back
      this.subscriptions.delete(id);
      pc.close();
      return;
    }
    await pc.setRemoteDescription(answer);
  }

  drop(id) {
    this.subscriptions.get(id)?.close();
    this.subscriptions.delete(id);
    this.known.delete(id);
    const video = this.tiles?.querySelector(`[data-tile="${CSS.escape(id)}"] video`);
    if (video) video.srcObject = null;
    this.setTile(id, 'gone');
  }

  end() {
    this.ended = true;
    clearInterval(this.timer);
    this.connection('lost');
    this.hangUp();
  }

  hangUp() {
    for (const id of [...this.subscriptions.keys()]) this.drop(id);
    this.publisher?.close();
    this.media?.getTracks().forEach((t) => t.stop());
    this.socket?.disconnect();
  }

  // Frames decoded per publisher (what the browser test reads).
  async stats() {
    const result = {};
    for (const [id, pc] of this.subscriptions) {
      (await pc.getStats()).forEach((report) => {
        if (report.type === 'inbound-rtp' && report.kind === 'video') result[id] = report.framesDecoded || 0;
      });
    }
    return result;
  }

  async phaseChanged(phase) {
    this.view.phase = phase;
    const banner = this.root.querySelector('[data-phase-banner]');
    banner.textContent = phaseName(phase);
    banner.dataset.phase = phase;
    const panel = this.root.querySelector('[data-vote-panel]');
    if (panel && phase === 'voting' && this.root.querySelector('[data-voted]')?.hidden) panel.hidden = false;
    if (['tallied', 'closed'].includes(phase)) {
      if (panel) panel.hidden = true;
      if (phase === 'closed') { this.ended = true; clearInterval(this.timer); this.hangUp(); }
      // the result is shown by the page for those who may see it
      setTimeout(() => window.location.reload(), phase === 'closed' ? 200 : 800);
    }
  }

  bindControls() {
    const next = this.root.querySelector('[data-next-phase]');
    const order = ['scheduled', 'open', 'deliberation', 'voting', 'tallied', 'closed'];
    next?.addEventListener('click', async () => {
      const target = order[order.indexOf(this.view.phase) + 1];
      if (!target) return;
      try {
        const view = await api('POST', `/api/committee/meetings/${this.view.id}/phase`, { phase: target });
        this.view.phase = view.phase;
        const after = order[order.indexOf(view.phase) + 1];
        next.textContent = after ? `${label('cm_move_to')}: ${phaseName(after)}` : label('cm_meeting_closed');
        next.disabled = !after;
        const banner = this.root.querySelector('[data-phase-banner]');
        banner.textContent = phaseName(view.phase);
        banner.dataset.phase = view.phase;  // the banner's code follows its words
        if (view.decision_error) toast(`${label('cm_decision_not_delivered')}: ${view.decision_error}`, true);
      } catch (failure) {
        toast(failure.message, true);
      }
    });
    const absent = this.root.querySelector('form[data-absent]');
    absent?.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await api('POST', `/api/committee/meetings/${this.view.id}/absent`,
          { member_id: Number(absent.elements.member_id.value), reason: absent.elements.reason.value });
        window.location.reload();
      } catch (failure) { toast(failure.message, true); }
    });
    const vote = this.root.querySelector('form[data-vote]');
    vote?.addEventListener('submit', async (event) => {
      event.preventDefault();
      const error = vote.querySelector('[data-vote-error]');
      error.textContent = '';
      const ballot = {
        choice: vote.elements.choice.value, opinion: vote.elements.opinion.value,
        conditions: vote.elements.conditions.value, nonce: randomNonce(),
      };
      try {
        // The fingerprint confirms this exact ballot (its nonce makes the hash unguessable).
        const token = await stepUp(0, 'committee_vote', { meeting_id: this.view.meeting_id, ...ballot });
        const body = { ...ballot };
        if (!body.conditions) delete body.conditions;
        if (token) body.step_up = token;
        const view = await api('POST', `/api/committee/meetings/${this.view.id}/ballots`, body);
        this.root.querySelector('[data-vote-panel]').hidden = true;
        this.root.querySelector('[data-voted]').hidden = false;
        if (view.phase === 'tallied') window.location.reload();
      } catch (failure) {
        error.textContent = failure.message;
      }
    });
  }
}

function setup(section) {
  const form = section.querySelector('form[data-convene]');
  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const next = JSON.parse(section.dataset.next);
    const meetingAt = new Date(form.elements.meeting_at.value).toISOString();
    const loanId = Number(section.dataset.committeeSetup);
    try {
      const token = await stepUp(loanId, 'convene_committee',
        { meeting_id: next.meeting_id, meeting_at: meetingAt, committee_kind: next.committee_kind });
      const body = { loan_id: loanId, meeting_at: meetingAt };
      if (token) body.step_up = token;
      const view = await api('POST', '/api/committee/meetings', body);
      window.location.href = `/committee/meetings/${view.id}`;
    } catch (failure) {
      section.querySelector('[data-convene-error]').textContent = failure.message;
    }
  });
}

const roomRoot = document.querySelector('[data-committee-room]');
if (roomRoot) {
  const room = new Room(roomRoot);
  window.committeeRoom = room;
  room.start().catch((failure) => room.message(failure.message));
}
// After close the server composes the meeting's video (in a child process, retried when it
// fails); show how far it is, and a failure, in the page's language.
async function followComposite(box) {
  const bar = box.querySelector('progress');
  const state = box.querySelector('[data-composite-state]');
  const labels = JSON.parse(box.dataset.compositeLabels || '{}');
  for (;;) {
    const reply = await fetch(`/committee/composites/${encodeURIComponent(box.dataset.composite)}`);
    if (reply.ok) {
      const job = await reply.json();
      bar.value = job.progress;
      box.dataset.state = job.state;
      const attempt = job.attempts > 1 ? ` (${(labels.attempt || '{attempt}/{attempts}')
        .replace('{attempt}', job.attempt).replace('{attempts}', job.attempts)})` : '';
      state.textContent = `${Math.round(job.progress * 100)}% ${labels[job.state] || job.state}${attempt}`
        + (job.message && job.state !== 'running' ? ` — ${job.message}` : '');
      box.classList.toggle('error', job.state === 'failed' || job.state === 'retrying');
      if (job.state === 'done' || job.state === 'failed') return;
    } else {
      state.textContent = labels.waiting || 'waiting';
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
for (const box of document.querySelectorAll('[data-composite]')) followComposite(box);
const setupRoot = document.querySelector('[data-committee-setup]');
if (setupRoot) setup(setupRoot);
