import { reportJson, type LabReport } from '../../src/lab/report.js';

/** Keeps a download link pointing at the latest report, as a blob URL (nothing is uploaded). */
export class ExportLink {
  private url: string | null = null;

  constructor(private readonly link: HTMLAnchorElement) {
    link.addEventListener('click', (e) => {
      if (!this.url) e.preventDefault();
    });
  }

  update(report: LabReport): void {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = URL.createObjectURL(new Blob([reportJson(report)], { type: 'application/json' }));
    this.link.href = this.url;
    const stamp = report.date.slice(0, 19).replace(/[:T]/g, '-');
    const who = [report.adapter.vendor, report.adapter.architecture].filter(Boolean).join('-').replace(/[^\w-]+/g, '_') || 'gpu';
    this.link.download = `hearth-kernel-lab-${who}-${stamp}.json`;
    this.link.removeAttribute('aria-disabled');
  }
}
