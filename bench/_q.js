const { run, Event, sleep, getRunningLoop } = require('evloop');
run(async () => {
  const ev = new Event();
  const result = [];
  const t = getRunningLoop().createTask(async () => { if (await ev.wait()) result.push(1); return true; });
  await sleep(0);
  ev.set();
  await sleep(0);
  console.log(result, t.done());
});
