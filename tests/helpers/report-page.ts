import type { Page } from 'playwright-core';

export interface DrawnChart {
  id: string;
  labels: string[];
  data: (number | null)[];
  /** Pixels of the canvas painted exactly in one of the dataset's colours (bars, arcs): not axes, not text. */
  dataPixels: number;
}

/**
 * What each chart holds, from Chart.js's own state (`window.kpiCharts`), and how much of its canvas its
 * data painted. The function runs in the page (its types are the browser's, hence the `any`).
 */
export function drawnCharts(page: Page): Promise<DrawnChart[]> {
  return page.evaluate(() =>
    Object.entries((globalThis as any).kpiCharts as Record<string, any>).map(([id, chart]) => {
      const dataset = chart.data.datasets[0];
      const colors = ([] as unknown[]).concat(dataset?.backgroundColor ?? []).map((c) => {
        const hex = String(c).replace('#', '');
        return [0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(',');
      });
      const canvas = chart.canvas;
      const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
      let dataPixels = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] === 255 && colors.includes(`${pixels[i]},${pixels[i + 1]},${pixels[i + 2]}`))
          dataPixels++;
      }
      return {
        id,
        labels: ((chart.data.labels ?? []) as unknown[]).map(String),
        data: (dataset?.data ?? []) as (number | null)[],
        dataPixels,
      };
    }),
  );
}
