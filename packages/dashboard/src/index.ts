export { buildDashboardPage, type DashboardPage, dashboardPage, WEB_DIR } from "./page.ts";
