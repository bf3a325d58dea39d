// backsplit/report: the comparison report of two evaluated models: one self-contained HTML file
// (plots, montages, tables), the numbers as JSON and CSV, a Markdown summary. Does not load libtorch.
export { type ReportInput, markdownSummary, perCaseCsv, writeReport } from "./report.js";
export { OVERLAY_COLORS, type Overlay, renderHeatSlice, renderMontage } from "./montage.js";
export {
  type CurveRow,
  type FisherCurveRow,
  fisherCurvesSpec,
  pairedDotsSpec,
  recallBySizeSpec,
  renderSvg,
  trainingCurvesSpec,
} from "./plots.js";
export { encodePng } from "./png.js";
