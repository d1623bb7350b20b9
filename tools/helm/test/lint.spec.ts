import { chartEnvironments, DEPLOYABLE_CHARTS, LIBRARY_CHART, lintChart, listCharts } from '../src';

describe('helm lint --strict', () => {
  it('covers every chart folder: the catalogue and charts/ agree', () => {
    expect(listCharts()).toEqual([LIBRARY_CHART, ...DEPLOYABLE_CHARTS.map((c) => c.chart)].sort());
  });

  it('passes for the library chart', () => {
    const result = lintChart(LIBRARY_CHART);
    expect(result.output).toContain('0 chart(s) failed');
    expect(result.ok).toBe(true);
  });

  const runs = DEPLOYABLE_CHARTS.flatMap((c) => chartEnvironments(c.chart).map((env) => [c.chart, env] as const));

  it('has staging, production and review values for every deployable chart', () => {
    for (const c of DEPLOYABLE_CHARTS) expect(chartEnvironments(c.chart)).toEqual(['production', 'review', 'staging']);
  });

  it.each(runs)('passes for %s with values-%s.yaml', (chart, env) => {
    const result = lintChart(chart, env);
    if (!result.ok) throw new Error(result.output);
    expect(result.output).not.toMatch(/\[(WARNING|ERROR)\]/);
  });
});
