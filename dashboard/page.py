"""The dashboard's one page: inline CSS and JS (no network beyond the dashboard itself).

The script builds every row with ``textContent`` and ``setAttribute`` (never ``innerHTML``), so job
names, errors and file names from the journal or the worker are shown as text.
"""

DASHBOARD_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Montage Bridge dashboard</title>
<link rel="icon" href="data:,">
<style>
:root{color-scheme:dark;--bg:#15171a;--fg:#e6e6e6;--dim:#9aa0a6;--line:#2c3036}
body{margin:0;padding:16px 24px;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,sans-serif}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px}
#live{font-size:12px;padding:1px 6px;border-radius:3px;background:#333}
#live.on{background:#1f5130}#live.off{background:#6b1f1f}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left}
th{color:var(--dim);font-weight:500}.dim{color:var(--dim)}.err{color:#ff8a80}
.state{padding:1px 6px;border-radius:3px;background:#333}
.s-written,.s-succeeded,.s-built{background:#1f5130}.s-failed,.s-problem{background:#6b1f1f}
.s-analyzing,.s-planned,.s-running{background:#1f3f6b}.s-queued,.s-seen,.s-pending,.s-retry{background:#4a4a1f}
.s-canceled{background:#444}
button{background:#2f4f6f;color:#fff;border:0;border-radius:3px;padding:2px 8px;cursor:pointer}
button:disabled{opacity:.5}a{color:#8ab4f8}details{display:inline}
progress{width:120px;vertical-align:middle}
</style></head><body>
<h1>Montage Bridge <span id="live" class="off">connecting</span></h1>
<p class="dim" id="summary"></p>
<section id="watch"><h2>Watch folder jobs</h2><p class="dim" id="watch-note"></p>
<table id="watch-jobs"><thead><tr><th>job</th><th>state</th><th>files</th><th>attempts</th><th>analysis</th>
<th>total</th><th>when</th><th>Resolve</th><th>error / output</th><th>edit</th><th></th></tr></thead>
<tbody></tbody></table>
</section>
<section id="worker"><h2>GPU worker</h2><p class="dim" id="worker-note"></p>
<table id="worker-workers"><thead><tr><th>worker</th><th>host</th><th>ops</th><th>slots free</th><th>running</th>
</tr></thead><tbody></tbody></table>
<table id="worker-jobs"><thead><tr><th>job</th><th>op</th><th>state</th><th>progress</th><th>ETA</th>
<th>attempt</th><th>error</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section id="cache"><h2>Analysis cache</h2><p id="cache-note" class="dim"></p></section>
<script>
(function(){
'use strict';
function el(tag, attrs){
  var node=document.createElement(tag);
  for(var k in (attrs||{})){ if(attrs[k]!==null&&attrs[k]!==undefined) node.setAttribute(k, String(attrs[k])); }
  for(var i=2;i<arguments.length;i++){var c=arguments[i]; if(c===null||c===undefined) continue;
    node.appendChild(typeof c==='object'?c:document.createTextNode(String(c)));}
  return node;
}
function cls(s){return String(s||'').replace(/[^a-z]/g,'');}
function secs(v){return (v===null||v===undefined)?'':(v<90?v.toFixed(1)+' s':(v/60).toFixed(1)+' min');}
function when(t){return t?new Date(t*1000).toLocaleTimeString():'';}
function bytes(n){var u=['B','KB','MB','GB','TB'],i=0;
  while(n>=1024&&i<4){n/=1024;i++;} return n.toFixed(i?1:0)+' '+u[i];}
function link(url, text){
  if(typeof url!=='string'||url.indexOf('/jobs/')!==0){return null;}
  return el('a',{href:url,target:'_blank',rel:'noopener'},text);
}
function post(url, button){
  button.disabled=true;
  fetch(url,{method:'POST',headers:{'X-Montage-Dashboard':'1'}}).then(function(r){return r.json().then(function(b){
    if(!r.ok){button.title=b.error||('HTTP '+r.status);button.textContent='failed';}
  });}).catch(function(){button.textContent='failed';});
}
function renderWatch(w){
  var body=document.querySelector('#watch-jobs tbody'); body.replaceChildren();
  var note=document.getElementById('watch-note');
  document.getElementById('watch').hidden=!w;
  if(!w){note.textContent='No watch journal: start with --outbox OUTBOX or --journal FILE.';return;}
  note.textContent=w.error?('Journal '+w.journal+': '+w.error):('Journal '+w.journal);
  w.jobs.forEach(function(j){
    var links=j.links||{files:[]};
    var files=el('details',null,el('summary',null,links.files.length+' files'));
    links.files.forEach(function(f){var a=link(f.url,f.name); if(a){files.appendChild(el('div',null,a));}});
    var edit=el('td',{class:'links'},link(links.picture,'picture'),' ',link(links.png,'png'),' ',
      links.files.length?files:null);
    var whenText=j.running?('running '+secs(j.elapsed)+(j.eta_s!==null?' · ETA '+secs(j.eta_s):'')):when(j.finished);
    var action=null;
    if(j.state==='failed'||j.resolve_state==='pending'||j.resolve_state==='problem'){
      action=el('button',{'data-action':'retry'},'retry');
      action.addEventListener('click',function(){post('/api/watch/jobs/'+encodeURIComponent(j.name)+'/retry',action);});
    }
    body.appendChild(el('tr',{'data-job':j.name,'data-state':j.state},
      el('td',{class:'name'},j.name), el('td',null,el('span',{class:'state s-'+cls(j.state)},j.state)),
      el('td',null,j.files), el('td',null,j.attempts), el('td',null,secs(j.analysis_seconds)),
      el('td',null,secs(j.total_seconds)), el('td',null,whenText),
      el('td',null,j.resolve_state?el('span',{class:'state s-'+cls(j.resolve_state)},j.resolve_state):''),
      el('td',{class:j.error?'err':'dim'},j.error||j.resolve_error||j.output||''), edit, el('td',null,action)));
  });
  var c=w.counts||{};
  var shown=Object.keys(c).filter(function(k){return c[k];}).map(function(k){return c[k]+' '+k;});
  return shown.join(', ')||'no jobs yet';
}
function renderWorker(g){
  var wbody=document.querySelector('#worker-workers tbody'), jbody=document.querySelector('#worker-jobs tbody');
  wbody.replaceChildren(); jbody.replaceChildren();
  var note=document.getElementById('worker-note');
  document.getElementById('worker').hidden=!g;
  if(!g){return;}
  if(g.error){note.textContent=g.url+': '+g.error; note.className='err'; return;}
  var h=g.health||{};
  note.className='dim';
  note.textContent=g.url+' — '+(h.status||'?')+', '+(h.queued||0)+' queued, '+(h.running||0)+' running'+
    (h.workers!==undefined&&h.workers!==null?', '+h.workers+' live worker(s)':'')+
    ((h.problems||[]).length?' — '+h.problems.join('; '):'');
  (g.workers||[]).forEach(function(w){
    wbody.appendChild(el('tr',{'data-worker':w.name},el('td',null,w.name),el('td',null,w.host),
      el('td',null,(w.ops||[]).join(', ')),el('td',null,(w.free_slots||0)+'/'+(w.slots||0)),
      el('td',null,(w.running||[]).length)));
  });
  g.jobs.forEach(function(j){
    var action=null;
    if(j.state==='queued'||j.state==='running'){
      action=el('button',{'data-action':'cancel'},j.cancel_requested?'canceling':'cancel');
      if(j.cancel_requested){action.disabled=true;}
      action.addEventListener('click',function(){post('/api/worker/jobs/'+encodeURIComponent(j.id)+'/cancel',action);});
    } else if(j.state==='failed'||j.state==='canceled'){
      action=el('button',{'data-action':'retry'},'retry');
      action.addEventListener('click',function(){post('/api/worker/jobs/'+encodeURIComponent(j.id)+'/retry',action);});
    }
    var frac=(typeof j.fraction==='number')?j.fraction:0;
    jbody.appendChild(el('tr',{'data-job':j.id,'data-state':j.state},el('td',{class:'name'},j.id),el('td',null,j.op),
      el('td',null,el('span',{class:'state s-'+cls(j.state)},j.state)),
      el('td',null,el('progress',{max:1,value:frac}),' '+Math.round(frac*100)+'% '+(j.stage||'')),
      el('td',null,j.state==='running'?secs(j.eta_s):''),el('td',null,j.attempt),
      el('td',{class:'err'},j.error||''),el('td',null,action)));
  });
}
function render(s){
  var parts=[];
  var w=renderWatch(s.watch); if(w){parts.push('watch: '+w);}
  renderWorker(s.worker);
  if(s.worker&&!s.worker.error){parts.push('GPU: '+s.worker.jobs.length+' job(s)');}
  var c=s.cache||{};
  document.getElementById('cache-note').textContent=c.path?(c.path+': '+bytes(c.bytes||0)+' in '+(c.files||0)+
    ' files'+(c.exists?'':' (not created yet)')):'';
  document.getElementById('summary').textContent=parts.join(' · ');
  document.body.setAttribute('data-updated',String(Date.now()));
}
var live=document.getElementById('live');
fetch('/api/state',{cache:'no-store'}).then(function(r){return r.json();}).then(render);
var source=new EventSource('/api/events');
source.addEventListener('state',function(ev){render(JSON.parse(ev.data));});
source.onopen=function(){live.textContent='live';live.className='on';};
source.onerror=function(){live.textContent='reconnecting';live.className='off';};
})();
</script></body></html>
"""
