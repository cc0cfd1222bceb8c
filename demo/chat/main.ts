/**
 * The chat page: wires the picker, the loaded model, the saved chats, the conversation and the
 * settings together, and decides which view shows (the picker until a model is loaded, then the chat).
 */
import '../shared/hearth.css';
import './chat.css';
import { mountSiteHeader } from '../shared/header.js';
import { byId, h } from '../shared/dom.js';
import { Notices, checkWebGpu } from './errors.js';
import { Settings } from './settings.js';
import { Session, type Loaded } from './session.js';
import { Picker } from './picker.js';
import { Conversation } from './conversation.js';
import { hasChatTemplate } from './context.js';
import { filesFromDrop } from './files.js';
import { showModelFacts } from './model-facts.js';
import { installDrawers } from './drawer.js';
import { Chats } from './chats.js';
import { Voice } from './voice.js';
import { fetchLocalModels } from './models.js';

document.body.dataset.started = 'yes';
const notices = new Notices(byId('notices'));
window.addEventListener('error', (e) => notices.show(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => notices.show(e.reason));

mountSiteHeader(byId('site-header'), 'chat');
const pickerView = byId('picker-view');
const chatView = byId('chat-view');
const side = byId('side');
const settings = new Settings([byId('chat-settings'), byId('load-options')]);
const chatList = byId('chat-list');
const drawers = installDrawers(byId('side-backdrop'), [
  // the open chat's row, so keyboard users land where they are in the list
  { panel: byId('history'), toggle: byId('chats-toggle'), focus: () => chatList.querySelector<HTMLElement>('[aria-current="true"]') ?? chatList.querySelector<HTMLElement>('.chat-open') ?? byId('history-new') },
  { panel: side, toggle: byId('settings-toggle') },
]);
const historyDrawer = drawers[0]!;
const settingsDrawer = drawers[1]!;

function show(view: 'picker' | 'chat'): void {
  pickerView.hidden = view !== 'picker';
  chatView.hidden = view !== 'chat';
  document.body.dataset.view = view;
  byId('back-to-chat').hidden = !(view === 'picker' && session.current);
  if (view === 'chat') conversation.focus();
}

const conversation: Conversation = new Conversation(
  {
    messages: byId('messages'),
    empty: byId('empty-chat'),
    form: byId<HTMLFormElement>('composer'),
    input: byId<HTMLTextAreaElement>('prompt'),
    send: byId<HTMLButtonElement>('send'),
    stop: byId<HTMLButtonElement>('stop'),
    meter: byId('context-meter'),
  },
  () => settings.chat,
  {
    create: (messages): Promise<string> => chats.create(messages),
    saved: () => void chats.refresh(),
    fatal(e) {
      notices.show(e, [h('button', { class: 'btn btn-small', type: 'button', onclick: () => session.current && void session.load(session.current.request) }, 'Load the model again')]);
    },
  },
);

const chats: Chats = new Chats(
  { list: chatList, empty: byId('chats-empty'), storage: byId('chats-storage'), newChat: byId<HTMLButtonElement>('history-new'), importInput: byId<HTMLInputElement>('chat-import') },
  conversation,
  notices,
  {
    opened() {
      if (historyDrawer.open) historyDrawer.close();
      conversation.focus();
    },
  },
);

const session = new Session(byId('load-slot'), () => settings.load, {
  beforeLoad() {
    conversation.stop();
    voice.cancel();
    notices.clear();
    show('picker');
  },
  loaded(l: Loaded) {
    const name = l.title.replace(/\.gguf$/i, '');
    byId('model-name').textContent = name;
    byId('model-chip').dataset.state = 'ready';
    // a chat's stored KV belongs to the model that computed it: a new model starts a new chat
    conversation.clear();
    conversation.setModel({ engine: l.engine, title: name, contextLength: l.info.contextLength });
    chats.setEngine(l.engine, name);
    voice.setEngine(l.engine);
    picker.setLoaded(typeof l.request.model === 'string' ? l.request.model : null);
    showModelFacts(byId('model-facts'), l);
    byId('unload').hidden = false;
    void describeTemplate(l);
    show('chat');
  },
  unloaded() {
    byId('model-name').textContent = 'No model';
    byId('model-chip').dataset.state = 'none';
    conversation.setModel(null);
    chats.setEngine(null);
    voice.setEngine(null);
    picker.setLoaded(null);
    showModelFacts(byId('model-facts'), null);
    byId('unload').hidden = true;
    byId('back-to-chat').hidden = true;
  },
  settled() {
    void picker.refresh();
  },
});

const picker = new Picker((req) => void session.load(req), notices);

let localModels: ReturnType<typeof fetchLocalModels> | null = null;
const voice = new Voice(
  { button: byId<HTMLButtonElement>('mic'), status: byId('voice-status'), input: byId<HTMLTextAreaElement>('prompt') },
  {
    engine: () => session.current?.engine ?? null,
    setting: () => settings.chat.speechModel,
    local: () => (localModels ??= fetchLocalModels()),
    problem: (p) => notices.showProblem(p),
    modelLoaded: () => void picker.refresh(),
    clearProblems: () => {
      for (const code of ['MIC_PERMISSION_DENIED', 'MIC_NOT_FOUND', 'MIC_UNAVAILABLE', 'SILENT_RECORDING', 'NO_SPEECH', 'SPEECH_MODEL_LOAD']) notices.clear(code);
    },
  },
);

/** The empty chat says what kind of model this is, so a base model's story-telling is no surprise. */
async function describeTemplate(l: Loaded): Promise<void> {
  const chat = await hasChatTemplate(l.engine);
  byId('empty-title').textContent = `${l.title.replace(/\.gguf$/i, '')} is ready`;
  byId('empty-text').textContent = chat
    ? 'Ask it anything. It runs on your GPU, in this tab: nothing you type leaves this device.'
    : 'This is a base model without a chat template: your messages are joined as plain text and it continues them. For a story model, start a story (“Once upon a time”).';
}

byId('model-chip').addEventListener('click', () => show('picker'));
byId('change-model').addEventListener('click', () => show('picker'));
byId('back-to-chat').addEventListener('click', () => show('chat'));
byId('new-chat').addEventListener('click', () => void chats.newChat());
byId('unload').addEventListener('click', () => {
  void session.unload().then(() => show('picker'));
});

document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  if (voice.recording) {
    e.preventDefault();
    void voice.toggle();
  } else if (voice.busy) {
    // loading the speech model or transcribing: stop, keep the message box as it is
    e.preventDefault();
    voice.cancel();
  } else if (conversation.generating) {
    e.preventDefault();
    conversation.stop();
  } else if (historyDrawer.open) historyDrawer.close();
  else if (settingsDrawer.open) settingsDrawer.close();
});

// a model dropped anywhere on the page loads, unless a load is already under way
const overlay = byId('drop-overlay');
let dragDepth = 0;
const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
document.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  dragDepth++;
  overlay.hidden = false;
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) overlay.hidden = true;
});
document.addEventListener('dragover', (e) => {
  if (hasFiles(e)) e.preventDefault();
});
document.addEventListener('drop', (e) => {
  if (!hasFiles(e) || !e.dataTransfer) return;
  e.preventDefault();
  dragDepth = 0;
  overlay.hidden = true;
  void filesFromDrop(e.dataTransfer).then(({ files, folder }) => picker.loadFiles(files, folder), (err: unknown) => notices.show(err));
});

async function start(): Promise<void> {
  show('picker');
  const gpu = byId('gpu-status');
  const [check] = await Promise.all([checkWebGpu(), picker.refresh()]);
  if (check.ok) {
    gpu.dataset.state = 'ok';
    gpu.textContent = `WebGPU ready · ${check.adapter}`;
  } else {
    gpu.dataset.state = 'error';
    gpu.textContent = 'WebGPU is not available here, so models cannot run in this browser.';
    notices.showProblem(check.problem);
  }
}

void start();
