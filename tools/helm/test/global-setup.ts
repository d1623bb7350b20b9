// Before any worker starts: extract Helm once and package each thin chart's library
// dependency once, so parallel test files never race on charts/<name>/charts/.
import { ensureDependencies, helmBinary, listCharts } from '../src';

export default function globalSetup(): void {
  helmBinary();
  for (const chart of listCharts()) ensureDependencies(chart);
}
