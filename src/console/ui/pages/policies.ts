import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { api } from '../api.js';
import { t, msg } from '../i18n.js';
import { useApi, ErrorBox, Loading, Section, Level, DecisionBadge } from '../components.js';

const LEVELS = ['L0', 'L1', 'L2', 'L3', 'L4'];

export function Policies() {
  const { data, error, loading, reload } = useApi<any>('policies');
  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  return html`<${Simulator} data=${data} /><${Editor} data=${data} onSaved=${reload} />`;
}

function Editor({ data, onSaved }: { data: any; onSaved: () => void }) {
  const [pack, setPack] = useState<string>(data.active);
  const original = data.packs.find((p: any) => p.name === pack);
  const [text, setText] = useState<string>(original.text);
  const [result, setResult] = useState<any>(null);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const choose = (p: string) => {
    setPack(p);
    setText(data.packs.find((x: any) => x.name === p).text);
    setResult(null);
    setSaved(false);
  };
  const validate = async () => {
    setError(undefined);
    setSaved(false);
    try {
      setResult(await api('policies/validate', { method: 'POST', body: { pack, text } }));
    } catch (e) {
      setError(e);
    }
  };
  const save = async () => {
    setError(undefined);
    try {
      const r = await api(`policies/${pack}`, { method: 'PUT', body: { text } });
      setResult(r.validation);
      setSaved(true);
      onSaved();
    } catch (e: any) {
      if (e.body?.error?.validation) setResult(e.body.error.validation);
      setError(e);
    }
  };
  const failing = result?.examples?.filter((x: any) => !x.ok) ?? [];
  return html`<${Section} title=${t('packs')} id="packs">
    <div class="segmented" role="radiogroup" aria-label=${t('packs')}>
      ${data.packs.map((p: any) => html`<label class=${pack === p.name ? 'on' : ''}><input type="radio" name="pack" value=${p.name} checked=${pack === p.name} onChange=${() => choose(p.name)} />${p.name}${p.name === data.active ? ` (${t('active')})` : ''}</label>`)}
    </div>
    <p class="muted small">${t('version')} ${data.version ?? '—'} · ${original.file}</p>
    <label for="policy-text">${t('policyText', { pack })}</label>
    <textarea id="policy-text" class="code" rows="18" spellcheck="false" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea>
    <div class="row">
      <button type="button" onClick=${validate}>${t('validate')}</button>
      <button type="button" class="primary" onClick=${save} disabled=${text === original.text}>${t('save')}</button>
    </div>
    <div aria-live="polite" data-testid="policy-validation">
      ${saved ? html`<p class="ok">${t('saved')}</p>` : null}
      ${result
        ? result.ok
          ? html`<p class="ok">✓ ${t('valid', { n: result.policies })}</p>
              ${result.examples.length ? html`<p class=${failing.length ? 'warn' : 'ok'}>${failing.length ? t('examplesFail', { n: failing.length }) : t('examplesOk', { n: result.examples.length })}</p>` : null}
              ${failing.length ? html`<ul>${failing.map((x: any) => html`<li>${x.name}: ${x.problem}</li>`)}</ul>` : null}`
          : html`<div class="error" role="alert"><strong>${t('invalid')}</strong><ul>${result.errors.map((e: any) => html`<li>${e.line ? html`<code>${e.line}:${e.col}</code> ` : null}${e.policy ? html`[${e.policy}] ` : null}${e.message}</li>`)}</ul></div>`
        : null}
    </div>
    <${ErrorBox} error=${result && !result.ok ? undefined : error} />
  </${Section}>`;
}

function Highlighted({ text, findings }: { text: string; findings: { type: string; start: number; end: number; score: number }[] }) {
  const parts: unknown[] = [];
  let at = 0;
  for (const f of [...findings].sort((a, b) => a.start - b.start)) {
    if (f.start < at) continue;
    parts.push(text.slice(at, f.start));
    parts.push(html`<mark title=${`${f.type} (${f.score.toFixed(2)})`}>${text.slice(f.start, f.end)}<span class="tag">${f.type}</span></mark>`);
    at = f.end;
  }
  parts.push(text.slice(at));
  return html`<p class="highlighted" data-testid="sim-highlighted">${parts}</p>`;
}

function Simulator({ data }: { data: any }) {
  const [text, setText] = useState('山田太郎さん (電話 090-1234-5678) の与信判断の資料を要約してください。');
  const [who, setWho] = useState('person');
  const [person, setPerson] = useState({ clearance: 'L3', role: 'staff', department: '経理部', trainings: 'ai-security-basic' });
  const [model, setModel] = useState<string>(data.models[0] ?? '');
  const [level, setLevel] = useState('');
  const [trace, setTrace] = useState<any>(null);
  const [error, setError] = useState<unknown>();
  const run = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const principal = who === 'person' ? { type: 'person', clearance: person.clearance, role: person.role, department: person.department, trainings: person.trainings.split(',').map((s) => s.trim()).filter(Boolean) } : { type: 'key', id: who };
    try {
      setTrace(await api('simulate', { method: 'POST', body: { text, model, principal, ...(level ? { level } : {}) } }));
    } catch (err) {
      setError(err);
    }
  };
  const field = (k: keyof typeof person) => (e: Event) => setPerson({ ...person, [k]: (e.target as HTMLInputElement).value });
  return html`<${Section} title=${t('simulator')} id="sim" desc=${t('simLead')}>
    <form onSubmit=${run} class="sim">
      <label for="sim-text">${t('simText')}</label>
      <textarea id="sim-text" rows="4" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea>
      <div class="fields">
        <div><label for="sim-who">${t('principal')}</label>
          <select id="sim-who" value=${who} onChange=${(e: Event) => setWho((e.target as HTMLSelectElement).value)}>
            <option value="person">${t('person')}</option>
            ${data.principals.map((k: any) => html`<option value=${k.id}>${t('apiKeyPrincipal', { name: k.name })} (${k.default_level}–${k.max_level})</option>`)}
          </select></div>
        <div><label for="sim-model">${t('model')}</label>
          <select id="sim-model" value=${model} onChange=${(e: Event) => setModel((e.target as HTMLSelectElement).value)}>${data.models.map((m: string) => html`<option value=${m}>${m}</option>`)}</select></div>
        <div><label for="sim-level">${t('requestedLevel')}</label>
          <select id="sim-level" value=${level} onChange=${(e: Event) => setLevel((e.target as HTMLSelectElement).value)}><option value="">${t('notSet')}</option>${LEVELS.map((l) => html`<option value=${l}>${l}</option>`)}</select></div>
      </div>
      ${who === 'person'
        ? html`<fieldset class="fields"><legend>${t('person')}</legend>
            <div><label for="sim-clearance">${t('clearance')}</label><select id="sim-clearance" value=${person.clearance} onChange=${field('clearance')}>${LEVELS.map((l) => html`<option value=${l}>${l}</option>`)}</select></div>
            <div><label for="sim-role">${t('role')}</label><input id="sim-role" value=${person.role} onInput=${field('role')} /></div>
            <div><label for="sim-dept">${t('department')}</label><input id="sim-dept" value=${person.department} onInput=${field('department')} /></div>
            <div><label for="sim-trainings">${t('trainings')}</label><input id="sim-trainings" value=${person.trainings} onInput=${field('trainings')} /></div>
          </fieldset>`
        : null}
      <button type="submit" class="primary">${t('run')}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${trace ? html`<${TraceView} trace=${trace} text=${text} />` : null}
  </${Section}>`;
}

function TraceView({ trace, text }: { trace: any; text: string }) {
  return html`<div class="trace" data-testid="trace" aria-live="polite">
    <h3>${t('trace')}</h3>
    <ol class="steps">
      <li><strong>${t('stepAuth')}</strong>: ${trace.principal.name} (${trace.principal.default_level}–${trace.principal.max_level})</li>
      <li><strong>${t('stepInspect')}</strong>: <${Level} level=${trace.level} />
        <ul>${trace.level_reasons.map((r: any) => html`<li>${msg(r)}</li>`)}</ul>
        <p>${t('findings')}: ${trace.findings.length}${trace.flags.length ? ` · flags: ${trace.flags.join(', ')}` : ''}</p>
        <${Highlighted} text=${text} findings=${trace.findings} />
      </li>
      <li><strong>${t('stepDecide')}</strong>: <span data-testid="sim-decision"><${DecisionBadge} decision=${trace.decision} /></span> <code>${trace.reason.code}</code> — ${msg(trace.reason)}
        <ul class="backends">${trace.backends.map(
          (b: any) => html`<li class=${b.compliant ? 'ok' : 'bad'}>${b.compliant ? '✓' : '✗'} <strong>${b.id}</strong> (${b.country}${b.region ? '/' + b.region : ''}, ${b.operator}) — ${b.compliant ? t('compliant') : t('notCompliant')}
            ${b.reasons.length ? html`<ul>${b.reasons.map((r: any) => html`<li>${msg(r)}</li>`)}</ul>` : null}</li>`,
        )}</ul>
      </li>
      <li><strong>${t('stepTransform')}</strong>: ${trace.outbound === text ? t('unchanged') : html`<pre class="out" data-testid="sim-outbound">${trace.outbound}</pre>`}</li>
      <li><strong>${t('stepRoute')}</strong>: ${trace.route.length ? trace.route.join(' → ') : '—'}</li>
    </ol>
  </div>`;
}
