/** `prnet eval aflw2000 <dir>`: NME on AFLW2000-3D, ours and the teachers, in one run. */
import { evaluateAflw2000, type MethodScores } from '../eval/aflw2000.js';
import { createPrnet } from '../pipeline/node.js';
import { EXIT, UsageError, intOption, parseOptions, precisionOption } from './main.js';

const pct = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '   –  ' : `${(100 * x).toFixed(2).padStart(5)}%`);

export async function runEval(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    json: { type: 'boolean' },
    'gt-box': { type: 'boolean' },
    model: { type: 'string', short: 'm' },
    peers: { type: 'boolean' },
    threads: { type: 'string' },
    precision: { type: 'string' },
  });
  const [set, dir] = positionals;
  if (set !== 'aflw2000' || !dir || positionals.length !== 2) throw new UsageError('usage: prnet eval aflw2000 <dir> [--json] [--gt-box] [--model m] [--no-peers] [--precision fp32|int8]');
  const gtBox = Boolean(values['gt-box']);
  const precision = precisionOption(values.precision);
  const prnet = await createPrnet({ model: values.model, detector: gtBox ? false : undefined, threads: intOption(values.threads, 'threads'), precision });
  const report = await evaluateAflw2000(prnet, dir, {
    gtBox,
    peers: values.peers !== false,
    onImage: values.json ? undefined : (f) => process.stderr.write(`  ${f}\n`),
  });
  await prnet.dispose();
  const model = { ...prnet.session.config, name: values.model ?? 'default', precision: prnet.session.precision };
  if (values.json) {
    const strip = (m: MethodScores) => ({ nme2d: m.nme2d, nme3d: m.nme3d, byYaw2d: m.byYaw2d, byYaw3d: m.byYaw3d, failed: m.failed, perImage: m.perImage });
    const out = {
      model,
      crop: gtBox ? 'ground-truth landmarks ×1.6' : 'detector',
      images: report.images,
      nme2d: report.ours.nme2d,
      nme3d: report.ours.nme3d,
      byYaw2d: report.ours.byYaw2d,
      byYaw3d: report.ours.byYaw3d,
      failed: report.ours.failed,
      perImage: report.ours.perImage,
      peers: Object.fromEntries(Object.entries(report.peers).map(([k, v]) => [k, strip(v)])),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return EXIT.ok;
  }
  const methods: [string, MethodScores][] = [['prnet-ts', report.ours], ...Object.entries(report.peers)];
  const lines: string[] = [];
  lines.push(`AFLW2000-3D, ${report.images} images, crop: ${gtBox ? 'ground-truth landmarks' : 'detector'}, network ${prnet.session.precision}; 68-point NME (2D / 3D)`);
  lines.push(['image', 'yaw°', ...methods.map(([n]) => n.padStart(17))].join('  '));
  report.ours.perImage.forEach((s, i) => {
    const cells = methods.map(([, m]) => `${pct(m.perImage[i].nme2d)} / ${pct(m.perImage[i].nme3d)}`);
    lines.push([s.image.padEnd(14), ((s.yaw * 180) / Math.PI).toFixed(0).padStart(4), ...cells].join('  '));
  });
  lines.push(['mean'.padEnd(14), '    ', ...methods.map(([, m]) => `${pct(m.nme2d)} / ${pct(m.nme3d)}`)].join('  '));
  for (const b of ['0-30', '30-60', '60-90'] as const) {
    lines.push([`yaw ${b}`.padEnd(14), `n=${String(report.ours.byYaw2d[b].count).padStart(2)}`, ...methods.map(([, m]) => `${pct(m.byYaw2d[b].count ? m.byYaw2d[b].mean : null)} / ${pct(m.byYaw3d[b].count ? m.byYaw3d[b].mean : null)}`)].join('  '));
  }
  for (const [n, m] of methods) if (m.failed) lines.push(`${n}: ${m.failed} image(s) without a face`);
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT.ok;
}
